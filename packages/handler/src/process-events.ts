/**
 * Installs what a process that owns its calls listens for: SIGTERM and
 * SIGINT (`onStop`; they also give Node running as PID 1 in a container a
 * signal handler at all), and uncaught exceptions and unhandled rejections
 * (`onFault`). Returns the function that removes them again.
 */
export function handleProcessEvents(onStop: () => void, onFault: (error: unknown) => void): () => void {
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("uncaughtException", onFault);
  process.on("unhandledRejection", onFault);
  return () => {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("uncaughtException", onFault);
    process.off("unhandledRejection", onFault);
  };
}
