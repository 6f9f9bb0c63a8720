import { FunkerError } from "@funker/client";
import type { CallTarget } from "@funker/client";
import type { AttemptFigures } from "./attempts.js";
import type { LoadOptions } from "./load-options.js";

/** Milliseconds, rounded to 0.01 ms. */
export interface LatencyFigures {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** What the calls of a run did, as the client reported them. */
export interface CallFigures {
  /** From the first call started to the last one ended. */
  seconds: number;
  calls: number;
  ok: number;
  wrong: number;
  firstWrong: unknown;
  /** Failed calls by FunkerError code. */
  failures: Record<string, number>;
  /** The first failure of each code, with its cause, so that a figure that looks wrong can be explained from the log. */
  failureExamples: Record<string, string>;
  /** Right answers per second. */
  callsPerSecond: number;
  /** Wall time around each answered call (ok or wrong), retries included; null when none was answered. */
  latencyMs: LatencyFigures | null;
}

/** The figures funker-load prints: with `--json`, as one JSON line in this order. */
export type LoadFigures = { function: string; concurrency: number } & CallFigures &
  AttemptFigures & {
    /** Failed connection attempts per right answer, to four significant digits; null without a right answer. */
    failedAttemptsPerSuccess: number | null;
  };

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Nearest-rank percentile of ascending `sorted`: the smallest value with at least `percent` % of values at or below it. */
function percentile(sorted: Float64Array, percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function latencyFigures(latenciesMs: readonly number[]): LatencyFigures | null {
  if (latenciesMs.length === 0) return null;
  const sorted = Float64Array.from(latenciesMs).sort();
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    p50: round(percentile(sorted, 50), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted[sorted.length - 1] ?? Number.NaN, 2),
    mean: round(sum / sorted.length, 2),
  };
}

/**
 * Starts `options.concurrency` loops through one client; each calls, waits
 * for the answer, and calls again until `options.seconds` have passed. A
 * call in flight at that moment finishes and counts.
 */
export async function runLoad(client: CallTarget, options: LoadOptions): Promise<CallFigures> {
  const expectedText = options.expected === undefined ? undefined : JSON.stringify(options.expected.value);
  const failures: Record<string, number> = {};
  const failureExamples: Record<string, string> = {};
  const latenciesMs: number[] = [];
  let ok = 0;
  let wrong = 0;
  let firstWrong: unknown;

  const started = performance.now();
  const until = started + options.seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const callStarted = performance.now();
      try {
        const result = await client.call(options.name, options.args, { timeout: options.timeoutMs });
        latenciesMs.push(performance.now() - callStarted);
        if (expectedText === undefined || JSON.stringify(result) === expectedText) ok += 1;
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
  };
  await Promise.all(Array.from({ length: options.concurrency }, loop));
  const elapsedSeconds = (performance.now() - started) / 1000;
  const failedCalls = Object.values(failures).reduce((sum, count) => sum + count, 0);
  return {
    seconds: round(elapsedSeconds, 3),
    calls: ok + wrong + failedCalls,
    ok,
    wrong,
    firstWrong,
    failures,
    failureExamples,
    callsPerSecond: round(ok / elapsedSeconds, 2),
    latencyMs: latencyFigures(latenciesMs),
  };
}

export function loadFigures(options: LoadOptions, calls: CallFigures, attempts: AttemptFigures): LoadFigures {
  return {
    function: options.name,
    concurrency: options.concurrency,
    ...calls,
    ...attempts,
    // Four significant digits: a reuse run has a few failed attempts in a hundred thousand calls.
    failedAttemptsPerSuccess: calls.ok === 0 ? null : Number((attempts.failedAttempts / calls.ok).toPrecision(4)),
  };
}

function counts(record: Record<string, number>): string {
  return Object.entries(record)
    .sort(([, a], [, b]) => b - a)
    .map(([key, count]) => `${key} ${count}`)
    .join(", ");
}

/** The few lines funker-load prints without `--json`. */
export function formatSummary(figures: LoadFigures): string {
  const failed = figures.calls - figures.ok - figures.wrong;
  const lines = [
    `${figures.function}: ${figures.calls} calls in ${figures.seconds} s, ${figures.concurrency} in flight: ${figures.ok} ok, ${figures.wrong} wrong, ${failed} failed`,
    `  ${figures.callsPerSecond} calls/s`,
  ];
  const latency = figures.latencyMs;
  lines[1] += latency === null ? "; no call answered" : `; latency p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms, mean ${latency.mean} ms`;
  const perSuccess = figures.failedAttemptsPerSuccess === null ? "" : ` (${figures.failedAttemptsPerSuccess} per success)`;
  const causes = figures.failedAttempts === 0 ? "" : `: ${counts(figures.failedAttemptsByCause)}`;
  lines.push(`  connections: ${figures.socketsOpened} opened, ${figures.socketsAnswered} answered, ${figures.failedAttempts} failed${perSuccess}${causes}`);
  if (failed > 0) {
    lines.push(`  failures: ${counts(figures.failures)}`);
    for (const [code, example] of Object.entries(figures.failureExamples)) lines.push(`    first ${code}: ${example}`);
  }
  if (figures.wrong > 0) lines.push(`  first wrong result: ${JSON.stringify(figures.firstWrong)}`);
  return `${lines.join("\n")}\n`;
}
