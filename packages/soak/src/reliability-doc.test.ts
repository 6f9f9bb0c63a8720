import { describe, expect, it } from "vitest";
import { mergeSoakRows } from "./reliability-doc.js";
import type { SoakReport } from "./soak.js";

const report = (mode: SoakReport["mode"], calls: number): SoakReport => ({
  target: "funker dev",
  mode,
  replicas: 4,
  inFlight: 8,
  seconds: 10,
  callsPerSecond: calls / 10,
  kills: { midCall: 3, random: 4 },
  calls,
  succeeded: calls - 2,
  errors: { unavailable: 1, handler_crashed: 1 },
  mayHaveRun: 1,
  mayHaveRunExecuted: 1,
  lost: 0,
  duplicated: 0,
  wrongNotRun: 0,
  wrongValue: 0,
  examples: {},
});

const document = "# Reliability\n\n<!-- soak:start (written by pnpm soak -- --write) -->\n<!-- soak:end -->\n\nafter\n";

describe("the soak's rows of docs/RELIABILITY.md", () => {
  it("writes a row per mode, and a later run replaces only its own mode's row", () => {
    const first = mergeSoakRows(document, [report("single-shot", 100), report("reuse", 200)], "2026-12-02", "pnpm soak");
    expect(first).toContain("| funker dev | reuse | 200 | 198 | handler_crashed 1, unavailable 1 | 1 (1) | 0 | 0 | 0 | 3 + 4 | 20 | 2026-12-02 | `pnpm soak` |");
    const second = mergeSoakRows(first, [report("reuse", 500)], "2026-12-03", "pnpm soak -- --mode reuse");
    expect(second).toContain("| funker dev | single-shot | 100 |");
    expect(second).toContain("| funker dev | reuse | 500 |");
    expect(second).not.toContain("| funker dev | reuse | 200 |");
    expect(second.endsWith("<!-- soak:end -->\n\nafter\n")).toBe(true);
  });
});
