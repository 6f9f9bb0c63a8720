// `call <name> [key=value…]` inside the caller image: finds the function on
// the Docker network (tasks.<name>, then <name>), calls it, prints the result
// as JSON, as `funker call` does on a laptop.
import { call, FunkerError } from "@funker/client";
import type { CallOptions } from "@funker/client";
import { parseKeyValues, splitOptions } from "./arguments.js";

const USAGE = `Usage: call <name> [key=value…] [--data <json>] [--timeout <ms>] [--legacy]

Calls a Funker function on this container's Docker network and prints its
result as JSON. Exit codes: 0 success, 1 the call failed, 2 usage.`;

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = splitOptions(process.argv.slice(2), ["legacy", "help"]);
  } catch (error) {
    process.stderr.write(`call: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { options, positionals } = parsed;
  const [name, ...pairs] = positionals;
  if (options.has("help") || name === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return name === undefined && !options.has("help") ? 2 : 0;
  }
  let args: unknown;
  try {
    const data = options.get("data");
    args = data !== undefined ? JSON.parse(data) : parseKeyValues(pairs);
  } catch (error) {
    process.stderr.write(`call: ${(error as Error).message}\n`);
    return 2;
  }
  const callOptions: CallOptions = {};
  const timeout = options.get("timeout");
  if (timeout !== undefined) callOptions.timeout = Number(timeout);
  if (options.has("legacy")) callOptions.protocol = "legacy";
  try {
    const result = await call(name, args, callOptions);
    process.stdout.write(`${JSON.stringify(result ?? null)}\n`);
    return 0;
  } catch (error) {
    const failure = FunkerError.from(error);
    process.stderr.write(`error ${failure.code}: ${failure.message}\n`);
    return 1;
  }
}

// Kept connections must not hold the process open after the answer.
main().then((code) => process.exit(code));
