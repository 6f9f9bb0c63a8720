import { describe, expect, it } from "vitest";
import type { HandlerMode } from "@funker/handler/contract";
import { defaultCli, runSoak } from "./soak.js";

/*
 * The soak's short version: each mode under funker dev for about ten
 * seconds, with a replica killed every 300 ms. The full version (pnpm soak,
 * 20,000 calls per mode) runs by hand; its figures are in docs/RELIABILITY.md.
 */
describe("the short soak under funker dev", () => {
  it.each<HandlerMode>(["single-shot", "reuse"])(
    "%s: every call is answered, none lost, none run twice, no wrong 'did not run'",
    async (mode) => {
      const report = await runSoak({
        mode,
        replicas: 4,
        inFlight: 8,
        calls: 100_000,
        durationMs: 10_000,
        killEveryMs: 300,
        minReplicaAgeMs: 500,
        // Calls long enough that a kill every 300 ms often finds one running.
        maxWorkMs: 100,
        callTimeoutMs: 20_000,
        cli: defaultCli(),
      });
      expect({ lost: report.lost, duplicated: report.duplicated, wrongNotRun: report.wrongNotRun, wrongValue: report.wrongValue, examples: report.examples }).toEqual({
        lost: 0,
        duplicated: 0,
        wrongNotRun: 0,
        wrongValue: 0,
        examples: {},
      });
      // The chaos happened, and calls got through it.
      expect(report.kills.midCall + report.kills.random).toBeGreaterThanOrEqual(3);
      expect(report.succeeded).toBeGreaterThan(report.calls / 2);
    },
    60_000,
  );
});
