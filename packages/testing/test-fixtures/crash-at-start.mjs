// A function whose module fails before it can listen.
throw new Error("missing configuration: DATABASE_URL");
