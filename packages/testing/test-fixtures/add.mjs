// A single-shot function, as a user's module: serves one call and exits.
import { handler } from "@funker/handler";

handler(({ x, y }) => x + y);
