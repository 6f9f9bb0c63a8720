import { parseKeyValues, splitOptions, UsageError } from "./arguments.js";

/** The most calls in flight: each holds a socket and a loop; a thousand already needs as many replicas or connections. */
const MAX_CONCURRENCY = 1_000;
/** The longest run: a day. Latencies are kept in memory, 8 bytes per answered call. */
const MAX_SECONDS = 86_400;
/** A day: longer than any run can use. */
const MAX_TIMEOUT_MS = 86_400_000;

export const LOAD_USAGE = `Usage: funker-load <name> [key=value…] [--data <json>] [--seconds 30] [--concurrency 1]
                   [--expect <json>] [--timeout 10000] [--json]

Calls a Funker function on this container's Docker network for a while, with
--concurrency calls in flight through one client (each loop starts its next
call when its last one ends), and prints what happened: calls per second,
the latency of answered calls (p50, p99, max, mean), failures by code, and
failed connection attempts per success. A failed attempt is a connection
that closed before any byte came back: refused, given up at the client's 1 s
connect limit, or closed or reset before the function accepted the call.
Outside Docker, name the function's addresses in FUNKER_ENDPOINTS
(add=127.0.0.1:9999).

  --seconds <s>        how long to start calls (default 30; calls in flight then finish)
  --concurrency <n>    calls in flight at once (default 1, at most ${MAX_CONCURRENCY})
  --expect <json>      count a result other than this JSON as wrong
  --timeout <ms>       each call's time limit, retries included (default 10000)
  --data <json>        the arguments as JSON, instead of key=value words
  --json               print one JSON line instead of the summary
  --help, -h           print this and exit

Exit codes: 0 the run finished (its figures say how the calls went), 2 usage.`;

export interface LoadOptions {
  name: string;
  args: unknown;
  seconds: number;
  concurrency: number;
  /** Present when results are checked: `{ value }` so that an expected `null` is told from none. */
  expected: { value: unknown } | undefined;
  timeoutMs: number;
  json: boolean;
}

export type LoadCommand = { kind: "help" } | { kind: "run"; options: LoadOptions };

const VALUE_OPTIONS = ["seconds", "concurrency", "expect", "timeout", "data"];
const FLAGS = ["json", "help"];

function numberOption(options: Map<string, string>, name: string, fallback: number, { integer, max }: { integer: boolean; max: number }): number {
  const text = options.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a positive ${integer ? "integer" : "number"} up to ${max}, not "${text}"`);
  }
  return value;
}

function jsonOption(options: Map<string, string>, name: string): { value: unknown } | undefined {
  const text = options.get(name);
  if (text === undefined) return undefined;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    throw new UsageError(`--${name} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads funker-load's command line; throws UsageError for anything it cannot take. */
export function parseLoadCommand(words: readonly string[]): LoadCommand {
  if (words.includes("-h")) return { kind: "help" };
  const { options, positionals } = splitOptions(words, FLAGS, VALUE_OPTIONS);
  if (options.has("help")) return { kind: "help" };
  const [name, ...pairs] = positionals;
  if (name === undefined || name === "") throw new UsageError("the name of the function to call is missing (see funker-load --help)");
  const data = jsonOption(options, "data");
  if (data !== undefined && pairs.length > 0) throw new UsageError("give the arguments either as key=value words or with --data, not both");
  return {
    kind: "run",
    options: {
      name,
      args: data !== undefined ? data.value : parseKeyValues(pairs),
      seconds: numberOption(options, "seconds", 30, { integer: false, max: MAX_SECONDS }),
      concurrency: numberOption(options, "concurrency", 1, { integer: true, max: MAX_CONCURRENCY }),
      expected: jsonOption(options, "expect"),
      timeoutMs: numberOption(options, "timeout", 10_000, { integer: true, max: MAX_TIMEOUT_MS }),
      json: options.has("json"),
    },
  };
}
