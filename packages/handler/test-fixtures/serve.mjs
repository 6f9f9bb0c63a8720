// Serves one of the functions below with options from the environment, and
// prints {"port":N} on stdout once listening, so that tests can use port 0.
import process from "node:process";
import { setTimeout } from "node:timers";
import { handler } from "../dist/index.js";

const functions = {
  add: (args) => args.x + args.y,
  sleep: (args) => new Promise((resolve) => setTimeout(() => resolve("slept"), args.ms)),
  hang: () => {
    process.stdout.write('{"started":true}\n');
    return new Promise(() => {});
  },
  // Holds the call until the process receives SIGTERM, then finishes it a little later.
  "finish-after-sigterm": () => {
    process.stdout.write('{"started":true}\n');
    return new Promise((resolve) => process.once("SIGTERM", () => setTimeout(() => resolve("finished"), 100)));
  },
  "throw-later": () => {
    setTimeout(() => {
      throw new Error("thrown from a timer");
    }, 10);
    return new Promise(() => {});
  },
  "reject-unhandled": () => {
    Promise.reject(new Error("nobody handles this"));
    return new Promise(() => {});
  },
  throws: () => {
    throw new TypeError("the function failed");
  },
};

const fn = functions[process.argv[2] ?? "add"];
if (fn === undefined) throw new Error(`unknown fixture function ${process.argv[2]}`);
const server = handler(fn);
server.ready.then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
