// Serves one of the functions below with options from the environment, and
// prints {"port":N} on stdout once listening, so that tests can use port 0.
import process from "node:process";
import { setTimeout } from "node:timers";
import { handler } from "../dist/index.js";

/** Bodies of "deaf" running now: more than `concurrency` would mean a slot was given back too soon. */
let running = 0;

const functions = {
  // Ignores its abort signal: works args.ms ms whatever happens, and says on stdout when it starts and ends.
  deaf: (args) => {
    running += 1;
    process.stdout.write(`${JSON.stringify({ running })}\n`);
    return new Promise((resolve) =>
      setTimeout(() => {
        running -= 1;
        process.stdout.write(`${JSON.stringify({ bodyDone: args.ms })}\n`);
        resolve("done");
      }, args.ms),
    );
  },
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
  // Replies, and leaves a timer running for ever.
  "work-forever-after-reply": () => {
    setInterval(() => undefined, 1_000);
    return "replied";
  },
  // Replies, then throws from the work it left running.
  "throw-after-reply": () => {
    setTimeout(() => {
      throw new Error("thrown after the reply");
    }, 50);
    return "replied";
  },
  // Never yields: only a time limit held from outside the event loop ends it.
  spin: () => {
    for (;;);
  },
  // Holds the event loop for args.ms of CPU, then returns.
  "busy-cpu": (args) => {
    const until = Date.now() + args.ms;
    while (Date.now() < until);
    return "done";
  },
  // Reuse mode: { spin: true } never yields; otherwise waits args.ms.
  "spin-or-sleep": (args) => {
    if (args.spin) for (;;);
    return new Promise((resolve) => setTimeout(() => resolve("slept"), args.ms));
  },
  throws: () => {
    throw new TypeError("the function failed");
  },
  // Given null, throws V8's own TypeError, whose stack names this file by its absolute path.
  "read-x": (args) => args.x,
  // Results JSON cannot carry, whatever the arguments.
  nan: () => Number.NaN,
  bigint: () => 10n ** 20n,
  cycle: () => {
    const node = { name: "loop" };
    node.self = node;
    return node;
  },
};

const fn = functions[process.argv[2] ?? "add"];
if (fn === undefined) throw new Error(`unknown fixture function ${process.argv[2]}`);
const server = handler(fn);
server.ready.then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
