import { callerChecks } from "./caller-checks.js";
import type { CallerOutcome } from "./caller-checks.js";
import { describeError, fail } from "./failure.js";
import { ReferenceFunction } from "./reference-function.js";
import type { CallerProtocol } from "./reference-function.js";
import { runChecks } from "./report.js";
import type { ConformanceReport } from "./report.js";

export type { CallerOutcome } from "./caller-checks.js";

/** A caller under test: it calls the function at `host:port` with `args` and reports what it got. */
export interface CallerUnderTest {
  /**
   * Which wire format the caller speaks: "framed", "legacy" (the 2017
   * format), or "auto" for a caller that finds out per function, as
   * Funker's client does by default (PROTOCOL.md 4.1): it is held to every
   * framed check against a framed function, every legacy check against a
   * 2017 one, and must reach a 2017 function with no configuration.
   */
  readonly protocol: "framed" | "legacy" | "auto";
  /**
   * Makes one call. Resolve with `{ ok: true, value }` for a result, or
   * `{ ok: false, code }` when the caller reports an error (a caller that
   * cannot tell errors apart resolves with the value it received; one that
   * crashes resolves with a code that says so).
   */
  call(host: string, port: number, args: unknown, options: { timeoutMs: number }): Promise<{ ok: true; value: unknown } | { ok: false; code: string }>;
}

export interface CallerConformanceOptions {
  caller: CallerUnderTest;
  /** Only the checks whose id matches. */
  only?: RegExp;
}

/** The timeout each call is given, in ms; a caller that has not returned by twice this fails the check. */
const CALL_TIMEOUT_MS = 5_000;

/**
 * Checks a caller implementation against a reference function served here on
 * a real TCP port: the request bytes it sends, and what it makes of results,
 * errors, chunked replies, heartbeats and connections closed without a reply
 * (the empty 2017 reply included).
 */
export async function runCallerConformance(options: CallerConformanceOptions): Promise<ConformanceReport> {
  const { caller } = options;
  const checks = caller.protocol === "auto" ? callerChecks : callerChecks.filter((check) => check.protocols.includes(caller.protocol as CallerProtocol));
  return runChecks(checks, options.only, async (check) => {
    // An "auto" caller meets a framed function wherever the check allows one, and a 2017 function elsewhere.
    const served: CallerProtocol = caller.protocol !== "auto" ? caller.protocol : check.protocols.includes("framed") ? "framed" : "legacy";
    const reference = await ReferenceFunction.start(served, check.behaviour);
    try {
      const outcome = await callWithin(caller, reference.port, check.args);
      check.expect(outcome, reference.receivedRequest(check.noRequestCause));
    } finally {
      reference.close();
    }
  });
}

/** One call by the caller under test, failed when it throws or does not return in time. */
async function callWithin(caller: CallerUnderTest, port: number, args: unknown): Promise<CallerOutcome> {
  const limitMs = 2 * CALL_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), limitMs)));
  const call = caller.call("127.0.0.1", port, args, { timeoutMs: CALL_TIMEOUT_MS }).catch((error: unknown) =>
    fail({
      expected: "call() to resolve with what the caller made of the reply",
      instead: `it threw: ${describeError(error)}`,
      cause: "CallerUnderTest.call resolves { ok: false, code } for an error the caller reports, or for a crash; a throw is a fault of the adapter",
    }),
  );
  try {
    const outcome = await Promise.race([call, late]);
    if (outcome === "late") {
      call.catch(() => undefined);
      return fail({
        expected: `the caller to return within ${limitMs} ms (it was given timeoutMs: ${CALL_TIMEOUT_MS})`,
        instead: "it had not returned",
        cause: "a caller reads a reply until it is whole (a RESULT or ERROR frame, or a 2017 reply's close) and gives up at its own timeout (PROTOCOL.md 3.1, 6.3)",
      });
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
