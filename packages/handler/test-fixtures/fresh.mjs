// A fresh-mode replica of one of the functions below (FUNKER_MODE=fresh is
// set by the tests), printing {"port":N} on stdout once it takes calls. The
// supervisor runs this same file again for every call.
import process from "node:process";
import { setTimeout } from "node:timers";
import { handler } from "../dist/index.js";

/** Made once per process: two calls that see the same token ran in the same process. */
const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
/** A global that a process serving more than one call would count up. */
let callsHere = 0;

const functions = {
  add: (args) => args.x + args.y,
  echo: (args) => args,
  token: () => ({ token, callsHere: (callsHere += 1), pid: process.pid }),
  environment: () => ({ secret: process.env.FIXTURE_SECRET ?? null, path: process.env.PATH !== undefined, marker: process.env.FUNKER_FRESH_CHILD ?? null }),
  // Never settles: the process's own alarm answers at the deadline.
  hang: () => new Promise(() => {}),
  // With {spin: true}, holds its event loop: only the supervisor can end it.
  spin: (args) => {
    while (args.spin) {
      // busy
    }
    return "did not spin";
  },
  // With {exit: true}, the process ends in the middle of the call.
  exit: (args) => (args.exit ? process.exit(3) : "did not exit"),
  "throw-later": () => {
    setTimeout(() => {
      throw new Error("thrown from a timer");
    }, 10);
    return new Promise(() => {});
  },
  // Reports the abort it sees on stdout, so the test knows the process was told.
  "wait-for-abort": (_args, context) =>
    new Promise((_resolve, reject) => {
      context.signal.addEventListener("abort", () => {
        process.stdout.write(`${JSON.stringify({ aborted: context.signal.reason?.code ?? "?" })}\n`);
        reject(context.signal.reason);
      });
    }),
  // Says on stdout that it runs, then never settles.
  "announce-then-hang": () => {
    process.stdout.write(`${JSON.stringify({ running: process.pid })}\n`);
    return new Promise(() => {});
  },
  sleep: (args) => new Promise((resolve) => setTimeout(() => resolve("slept"), args.ms)),
  // Replies at once, and keeps the process busy for a while after.
  "work-after-reply": (args) => {
    setTimeout(() => process.stdout.write(`${JSON.stringify({ afterReply: process.pid })}\n`), args.ms);
    return "replied";
  },
  // With {grow: true}, allocates until the heap limit ends the process.
  "grow-heap": (args) => {
    const kept = [];
    while (args.grow) kept.push(new Array(100_000).fill(kept.length));
    return "did not grow";
  },
};

// A function whose processes cannot start (the supervisor itself starts: it has no IPC channel).
if (process.env.FIXTURE_FAIL_IN_PROCESS === "1" && process.send !== undefined) throw new Error("this process cannot start");
// A function whose processes are slow to start: each holds its thread this long before handler().
if (process.env.FIXTURE_SLOW_START_MS !== undefined && process.send !== undefined) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env.FIXTURE_SLOW_START_MS));
}

const fn = functions[process.argv[2] ?? "add"];
if (fn === undefined) throw new Error(`unknown fixture function ${process.argv[2]}`);
const server = handler(fn);
server.ready.then(({ port }) => {
  // Only the supervisor prints: its processes are started with the marker the handler removes.
  if (process.send === undefined) process.stdout.write(`${JSON.stringify({ port })}\n`);
});
