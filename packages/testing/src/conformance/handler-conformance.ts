import { describeError, fail } from "./failure.js";
import type { CheckContext } from "./handler-calls.js";
import { handlerChecks } from "./handler-checks.js";
import { runChecks } from "./report.js";
import type { ConformanceReport } from "./report.js";

/** A handler under test, started fresh for each check. */
export interface HandlerUnderTest {
  readonly host: string;
  readonly port: number;
  /** Stops it; called after each check, even a failed one. */
  stop(): Promise<void>;
}

export interface HandlerConformanceOptions {
  /**
   * Starts a fresh handler serving `conformanceFunction` (see its table)
   * under the function name `"conformance"`, in the given mode (in reuse
   * mode with a concurrency limit of 1), and resolves once it accepts
   * connections. An implementation without one of the modes leaves it out
   * of `modes`.
   */
  start(mode: "single-shot" | "reuse"): Promise<HandlerUnderTest>;
  /** Which modes to check. Default both. */
  modes?: readonly ("single-shot" | "reuse")[];
  /** The handler's payload limit, to test that it is enforced. Default 8 MiB. */
  maxPayloadBytes?: number;
  /** Only the checks whose id matches. */
  only?: RegExp;
  /** How long one exchange may take before the check fails. Default 5000 ms. */
  checkTimeoutMs?: number;
}

/**
 * Checks a handler implementation (any language) against the Funker protocol
 * specification over real TCP: both wire modes, single-shot refusal, every
 * error case, heartbeats, cancel and limits. Framework-agnostic: it returns a
 * report, and your test asserts `report.passed` (print `report.failures`:
 * each says what was expected, what came instead and the likely cause).
 */
export async function runHandlerConformance(options: HandlerConformanceOptions): Promise<ConformanceReport> {
  const modes = options.modes ?? ["single-shot", "reuse"];
  const context: CheckContext = { maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024, timeoutMs: options.checkTimeoutMs ?? 5_000 };
  const checks = handlerChecks.filter((check) => modes.includes(check.mode));
  return runChecks(checks, options.only, async (check) => {
    const target = await options.start(check.mode).catch((error: unknown) =>
      fail({ expected: `start("${check.mode}") to start a handler`, instead: `it failed: ${describeError(error)}` }),
    );
    try {
      await check.run(target, context);
    } finally {
      await target.stop().catch(() => undefined);
    }
  });
}
