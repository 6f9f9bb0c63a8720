// The replica under fuzz: `add` for arguments with two numbers, and an echo of
// anything else, so that whatever the fuzz gets through to the function comes
// back through the handler's result encoding too. Prints {"port":N} once it
// listens (FUNKER_PORT=0).
import process from "node:process";
import { handler } from "@funker/handler";

const server = handler((args) => (typeof args?.x === "number" && typeof args?.y === "number" ? args.x + args.y : args));
server.ready.then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));

// The fuzz's reading of memory (reuse mode, started with --expose-gc): on
// SIGUSR2, a full collection, then one line of process.memoryUsage(). What
// is left after a full collection is what the process holds; a reading
// without one also counts garbage not yet collected, which rises and falls
// with the garbage collector's timing rather than with what is kept.
if (typeof globalThis.gc === "function") {
  process.on("SIGUSR2", () => {
    globalThis.gc();
    process.stdout.write(`${JSON.stringify({ memory: process.memoryUsage() })}\n`);
  });
}
