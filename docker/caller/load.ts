// `funker-load <name> [key=value…] --seconds <s> --expect <json>`: calls a
// function one call after the other for a while and prints one JSON line of
// figures: calls per second, and failed connection attempts per success.
//
// Connection attempts are counted through node:diagnostics_channel's
// 'net.client.socket' channel, which Node publishes for every client socket
// it creates: each socket's 'error' event is counted by its code
// (ECONNREFUSED, EHOSTUNREACH…). The client is not modified or wrapped.
import { subscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";
import { createClient, FunkerError } from "@funker/client";
import { parseKeyValues, splitOptions } from "./arguments.js";

const { options, positionals } = splitOptions(process.argv.slice(2));
const [name, ...pairs] = positionals;
if (name === undefined) {
  process.stderr.write("Usage: funker-load <name> [key=value…] [--seconds 30] [--expect <json>] [--timeout <ms>]\n");
  process.exit(2);
}
const args = parseKeyValues(pairs);
const seconds = Number(options.get("seconds") ?? "30");
const expected = options.has("expect") ? (JSON.parse(options.get("expect") ?? "null") as unknown) : undefined;
const timeout = Number(options.get("timeout") ?? "10000");

let socketsOpened = 0;
const connectErrors: Record<string, number> = {};
subscribe("net.client.socket", (message) => {
  const { socket } = message as { socket: Socket };
  socketsOpened += 1;
  socket.once("error", (error: NodeJS.ErrnoException) => {
    const code = error.code ?? "other";
    connectErrors[code] = (connectErrors[code] ?? 0) + 1;
  });
});

const client = createClient({ timeout });
const failures: Record<string, number> = {};
/** The first failure of each code, with its cause, so a figure that looks wrong can be explained from the log. */
const failureExamples: Record<string, string> = {};
let ok = 0;
let wrong = 0;
let firstWrong: unknown;
const started = performance.now();
const until = started + seconds * 1000;
while (performance.now() < until) {
  try {
    const result = await client.call(name, args);
    if (expected === undefined || JSON.stringify(result) === JSON.stringify(expected)) ok += 1;
    else {
      wrong += 1;
      firstWrong ??= result;
    }
  } catch (error) {
    const failure = FunkerError.from(error);
    failures[failure.code] = (failures[failure.code] ?? 0) + 1;
    const cause = failure.cause instanceof Error ? ` (cause: ${failure.cause.message})` : "";
    failureExamples[failure.code] ??= `${failure.message}${cause}`;
  }
}
const elapsedSeconds = (performance.now() - started) / 1000;
const failedAttempts = Object.values(connectErrors).reduce((sum, count) => sum + count, 0);
const failedCalls = Object.values(failures).reduce((sum, count) => sum + count, 0);
process.stdout.write(
  `${JSON.stringify({
    function: name,
    seconds: Number(elapsedSeconds.toFixed(2)),
    calls: ok + wrong + failedCalls,
    ok,
    wrong,
    firstWrong,
    failures,
    failureExamples,
    callsPerSecond: Number((ok / elapsedSeconds).toFixed(1)),
    socketsOpened,
    connectErrors,
    failedAttemptsPerSuccess: ok === 0 ? null : Number((failedAttempts / ok).toFixed(3)),
  })}\n`,
);
await client.close();
process.exit(0);
