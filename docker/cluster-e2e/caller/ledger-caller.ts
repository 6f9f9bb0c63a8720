// `ledger-caller`: the caller of the multi-node stage, run in a container on
// a node. It calls a function for a while with `--concurrency` calls in
// flight, each with an id of its own (`<caller>-<n>`), and writes what it was
// told about every call to `--records`, one JSON line per call:
//   ["n1-42", <sent, epoch ms>, <answered, epoch ms>, "fkc-n3", null, null]      answered by a replica on fkc-n3
//   ["n1-43", <sent>, <failed>, null, "handler_crashed", true]                  failed: code, may have run
// then prints one JSON line of totals. The tests reconcile the records with
// the function's ledger. Calls are not idempotent (the client's default), so
// the client never delivers one twice.
//
// --each-replica: first, one call to every address of `tasks.<name>` (the
//   call's `endpoints`, a 5 s deadline), so that every replica is reached
//   from this node whichever replicas the client would pick; the totals map
//   each address to the node that answered.
// --avoid-node <hostname>: then load only the replicas that answered from
//   another node (cross-node calls only), through the client's `endpoints`.
// --rate <calls/s>: a steady load instead of calls back to back: each of the
//   `--concurrency` loops keeps its share of the rate, and a loop held up by
//   a slow call skips the slots it missed rather than bursting to catch up,
//   so the answered rate shows at once how much of the load is stuck.
// --start-file <path>: after the sweep, wait for this file to exist before
//   the load, so that callers started one after the other load together.
import { resolve4 } from "node:dns/promises";
import { createWriteStream, existsSync } from "node:fs";
import { createClient, FunkerError } from "@funker/client";
import { splitOptions } from "../../caller/arguments.js";

const USAGE = `Usage: ledger-caller --function <name> --caller <label> --records <file> [--seconds 10] [--concurrency 4]
  [--timeout 60000] [--connect-timeout 1000] [--heartbeat 5000] [--each-replica] [--avoid-node <hostname>] [--rate <calls/s>]
  [--start-file <path>]`;

const { options } = splitOptions(process.argv.slice(2), ["each-replica"]);
const name = options.get("function");
const caller = options.get("caller");
const recordsFile = options.get("records");
if (name === undefined || caller === undefined || recordsFile === undefined) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const seconds = Number(options.get("seconds") ?? "10");
const concurrency = Number(options.get("concurrency") ?? "4");
// Long on purpose: a call that ends must end through the connect or heartbeat
// limits, never by this deadline, so a deadline_exceeded in the records is a hang.
const timeout = Number(options.get("timeout") ?? "60000");
// The client's own limits, passed explicitly so that the tests hold each call to the values it ran with.
const settings = {
  timeout,
  connectTimeoutMs: Number(options.get("connect-timeout") ?? "1000"),
  heartbeatIntervalMs: Number(options.get("heartbeat") ?? "5000"),
};
const avoidNode = options.get("avoid-node");
/** The deadline of each call of the sweep (--each-replica): ample for one call to a replica that answers. */
const SWEEP_TIMEOUT_MS = 5_000;
/** How long --start-file is waited for: the other callers' containers start in seconds. */
const START_WAIT_MS = 120_000;

const records = createWriteStream(recordsFile, { flags: "w" });
const totals = { calls: 0, ok: 0, failed: 0, failures: {} as Record<string, number>, replicas: {} as Record<string, string> };
let next = 0;
/** Epoch milliseconds to a hundredth: cross-node calls take well under one. */
const now = (): number => Math.round((performance.timeOrigin + performance.now()) * 100) / 100;

/** Makes one call and records what the caller was told; returns the answering node, or the failure's code. */
async function recordedCall(client: ReturnType<typeof createClient>, endpoints?: string[]): Promise<{ node?: string; code?: string }> {
  const id = `${caller}-${next}`;
  next += 1;
  const sent = now();
  let record: unknown[];
  let outcome: { node?: string; code?: string };
  try {
    const result = (await client.call(name as string, { id }, endpoints === undefined ? {} : { endpoints })) as { id: string; node: string };
    // An answer for another call would be a protocol bug: recorded as such, never as a success.
    outcome = result.id === id ? { node: result.node } : { code: "wrong_answer" };
    record = result.id === id ? [id, sent, now(), result.node, null, null] : [id, sent, now(), null, "wrong_answer", true];
  } catch (error) {
    const failure = FunkerError.from(error);
    outcome = { code: failure.code };
    record = [id, sent, now(), null, failure.code, failure.mayHaveRun];
  }
  totals.calls += 1;
  if (outcome.code === undefined) totals.ok += 1;
  else {
    totals.failed += 1;
    totals.failures[outcome.code] = (totals.failures[outcome.code] ?? 0) + 1;
  }
  records.write(`${JSON.stringify(record)}\n`);
  return outcome;
}

let loadEndpoints: string[] | undefined;
if (options.has("each-replica") || avoidNode !== undefined) {
  // One address per call: a call that cannot connect is tried again until
  // its deadline (it was not delivered), so the sweep's deadline is short.
  const sweeper = createClient({ ...settings, timeout: SWEEP_TIMEOUT_MS });
  for (const address of (await resolve4(`tasks.${name}`)).sort()) {
    const outcome = await recordedCall(sweeper, [address]);
    totals.replicas[address] = outcome.node ?? `error ${outcome.code}`;
  }
  await sweeper.close();
  if (avoidNode !== undefined) {
    loadEndpoints = Object.entries(totals.replicas).filter(([, answeredBy]) => answeredBy !== avoidNode && !answeredBy.startsWith("error ")).map(([address]) => address);
    if (loadEndpoints.length === 0) throw new Error(`no replica answered from a node other than ${avoidNode}`);
  }
}

const startFile = options.get("start-file");
if (startFile !== undefined) {
  const giveUp = Date.now() + START_WAIT_MS;
  while (!existsSync(startFile)) {
    if (Date.now() > giveUp) throw new Error(`${startFile} did not appear within ${START_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const client = createClient(loadEndpoints === undefined ? settings : { ...settings, endpoints: { [name]: loadEndpoints } });
const until = Date.now() + seconds * 1000;
const rate = options.has("rate") ? Number(options.get("rate")) : undefined;
const intervalMs = rate === undefined ? 0 : (concurrency * 1000) / rate;
async function loop(offset: number): Promise<void> {
  let slot = Date.now() + offset * (intervalMs / concurrency);
  while (Date.now() < until) {
    if (intervalMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, slot - Date.now())));
      slot = Math.max(slot + intervalMs, Date.now());
    }
    await recordedCall(client);
  }
}
await Promise.all(Array.from({ length: concurrency }, (_, index) => loop(index)));
await new Promise<void>((resolve, reject) => records.end((error?: Error | null) => (error ? reject(error) : resolve())));
process.stdout.write(`${JSON.stringify({ caller, function: name, seconds, concurrency, rate, loadEndpoints, ...totals })}\n`);
await client.close();
process.exit(0);
