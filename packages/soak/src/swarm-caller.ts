/**
 * The soak's caller on the Swarm: runs in a container of the caller image on
 * the functions' network, calls the function by its name as any app does,
 * and prints one JSON line with what each call was told, for the host to
 * reconcile against the execution logs.
 *
 *   node swarm-caller.mjs <function> <in-flight> <calls> <duration-ms> <max-work-ms> <timeout-ms>
 */
import { createClient } from "@funker/client";
import { makeCalls } from "./calls.js";

const [functionName, inFlight, calls, durationMs, maxWorkMs, timeoutMs] = process.argv.slice(2);
if (functionName === undefined || timeoutMs === undefined) {
  console.error("usage: swarm-caller <function> <in-flight> <calls> <duration-ms> <max-work-ms> <timeout-ms>");
  process.exit(2);
}
const client = createClient({ timeout: Number(timeoutMs) });
const startedAt = Date.now();
const told = await makeCalls(client, functionName, {
  inFlight: Number(inFlight),
  calls: Number(calls),
  durationMs: Number(durationMs),
  maxWorkMs: Number(maxWorkMs),
});
await client.close();
process.stdout.write(`${JSON.stringify({ seconds: (Date.now() - startedAt) / 1_000, told: [...told] })}\n`);
