import { describeError } from "./failure.js";

/** The outcome of one conformance check. */
export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly passed: boolean;
  /** Why it failed: what was expected, what came instead, and the likely cause where one is known. */
  readonly failure?: string;
}

export interface ConformanceReport {
  readonly results: readonly CheckResult[];
  readonly failures: readonly CheckResult[];
  readonly passed: boolean;
}

/** What every check has: a stable id (`only` matches it) and a title saying what it proves. */
export interface Check {
  readonly id: string;
  readonly title: string;
}

/**
 * Runs the checks whose id `only` matches, one after another (a check may
 * need the whole machine's attention: timings, a single-shot listener), and
 * reports each: a check passes when `run` resolves, and fails with the
 * message of what it throws.
 */
export async function runChecks<C extends Check>(checks: readonly C[], only: RegExp | undefined, run: (check: C) => Promise<void>): Promise<ConformanceReport> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (only !== undefined && !only.test(check.id)) continue;
    try {
      await run(check);
      results.push({ id: check.id, title: check.title, passed: true });
    } catch (error) {
      results.push({ id: check.id, title: check.title, passed: false, failure: describeError(error) });
    }
  }
  const failures = results.filter((result) => !result.passed);
  return { results, failures, passed: failures.length === 0 };
}
