import { describe, expect, it } from "vitest";
import { heldUp, runFuzz } from "./fuzz.js";
import type { FuzzReport } from "./fuzz.js";
import { keptAsCase, readKeptCases } from "./kept-cases.js";
import { makeCase } from "./mutate.js";
import type { FuzzMode } from "./replica.js";

/*
 * The fuzz's short version: a seeded run of each mode against a live
 * replica, and every kept failing case replayed. The full version (pnpm
 * fuzz, 100,000 cases) runs by hand; its figures are in docs/RELIABILITY.md.
 */
const SEED = 17;

/** What must hold, as one object, so that a failure shows every broken goal with the seed and cases to make it again. */
function goals(report: FuzzReport) {
  return {
    seed: report.seed,
    failures: report.failures.map((failure) => `case ${failure.index}: ${failure.label}: ${failure.problem}`),
    deaths: report.deaths,
    validCallsWrong: report.validCalls.made - report.validCalls.right,
    memoryFloorRiseKiB: report.memory === undefined ? 0 : Math.max(0, report.memory.late - report.memory.early - report.memory.bound),
    heapFloorRiseKiB: report.heap === undefined ? 0 : Math.max(0, report.heap.late - report.heap.early - report.heap.bound),
    descriptorRise: report.descriptors === undefined ? 0 : Math.max(0, report.descriptors.late - report.descriptors.early - report.descriptors.bound),
  };
}

const held = (seed: number) => ({ seed, failures: [], deaths: 0, validCallsWrong: 0, memoryFloorRiseKiB: 0, heapFloorRiseKiB: 0, descriptorRise: 0 });

describe("the short fuzz against a live replica", () => {
  it("reuse: one process takes every case, answers each half-closed one, stays flat and still serves", async () => {
    // Batches of 100: enough readings for a floor of memory in a short run.
    const report = await runFuzz({ mode: "reuse", seed: SEED, cases: 3_000, durationMs: 15_000, batch: 100, caseAt: (index) => makeCase(SEED, index) });
    expect(goals(report)).toEqual(held(SEED));
    expect(report.processes).toBe(1);
    expect(heldUp(report)).toBe(true);
    // The run meant something: many cases, and answers of several kinds.
    expect(report.cases).toBeGreaterThanOrEqual(200);
    expect(Object.keys(report.answers).length).toBeGreaterThanOrEqual(5);
  }, 90_000);

  it("single-shot: every process exits 0 and answers its half-closed case", async () => {
    const report = await runFuzz({ mode: "single-shot", seed: SEED, cases: 100, durationMs: 12_000, batch: 20, caseAt: (index) => makeCase(SEED + 1, index) });
    expect(goals(report)).toEqual(held(SEED));
    expect(report.cases).toBeGreaterThanOrEqual(6);
  }, 90_000);

  it("fresh: the supervisor takes every case, answers each half-closed one, stays flat and still serves", async () => {
    // A process starts for every call, the warm-up's 216 included: the short run goes without it (its readings follow a
    // full garbage collection, and the heap in use is what would show a leak), in batches of 20 for enough readings.
    const report = await runFuzz({ mode: "fresh", seed: SEED, cases: 1_000, durationMs: 8_000, batch: 20, warmUp: false, caseAt: (index) => makeCase(SEED + 2, index) });
    expect(goals(report)).toEqual(held(SEED));
    expect(report.processes).toBe(1);
    expect(heldUp(report)).toBe(true);
    expect(report.cases).toBeGreaterThanOrEqual(20);
  }, 90_000);

  const kept = readKeptCases();
  for (const mode of ["reuse", "single-shot", "fresh"] as const satisfies readonly FuzzMode[]) {
    const cases = kept.filter((testCase) => testCase.mode === mode);
    // A mode with no kept case has nothing to replay: no test, rather than a skipped one.
    if (cases.length === 0) continue;
    it(`replays the ${cases.length} kept failing case(s) of ${mode} mode`, async () => {
      const report = await runFuzz({ mode, seed: 0, cases: cases.length, caseAt: (index) => keptAsCase(cases[index] as (typeof cases)[number]), batch: cases.length, warmUp: false });
      expect(goals(report)).toEqual(held(0));
    }, 90_000);
  }
});
