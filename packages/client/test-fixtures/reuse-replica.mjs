// A real reuse-mode replica for the client's tests: the built handler,
// configured by the environment the test passes (FUNKER_PORT, FUNKER_MODE…).
// It prints {"port":N} once listening. A call { block: ms } prints
// {"blocking":true} and then holds the event loop for that long, so that the
// replica reads nothing more until then; a call { fail: message } throws an
// Error with that message; any other call answers with the process id, so
// that a test can tell replicas apart.
import process from "node:process";
import { handler } from "@funker/handler";

const server = handler((args) => {
  if (typeof args?.fail === "string") throw new Error(args.fail);
  if (typeof args?.block === "number") {
    process.stdout.write('{"blocking":true}\n');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, args.block);
  }
  return { pid: process.pid };
});
server.ready.then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
