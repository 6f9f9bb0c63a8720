import { describe, expect, it } from "vitest";
import type { FuzzReport } from "./fuzz.js";
import { mergeFuzzRows } from "./reliability-doc.js";

const report = (mode: FuzzReport["mode"], cases: number): FuzzReport => ({
  mode,
  seed: 7,
  cases,
  byMutation: { "bit-flip": 1, truncation: 2, length: 3, frames: 4, random: 5, json: cases - 15 },
  halfClosed: cases - 10,
  answers: { result: 5, "error protocol_error": cases - 20, "closed before a whole frame": 5, "left open": 10 },
  deaths: 0,
  processes: mode === "reuse" ? 1 : cases,
  ...(mode === "reuse" ? { memory: { early: 102_400, late: 104_448, highest: 204_800, bound: 32_768 }, heap: { early: 5_120, late: 5_632, highest: 6_144, bound: 8_192 }, descriptors: { early: 20, late: 20, highest: 20, bound: 2 } } : {}),
  validCalls: { made: 4, right: 4 },
  failures: [],
  seconds: 10,
  casesPerSecond: cases / 10,
});

const document = ["# Reliability", "", "<!-- fuzz:start (written by pnpm fuzz -- --write) -->", "<!-- fuzz:end -->", "after"].join("\n");

describe("the fuzz rows of docs/RELIABILITY.md", () => {
  it("writes a row per mode between the markers, with the figures and the command", () => {
    const merged = mergeFuzzRows(document, [report("reuse", 1000), report("single-shot", 100)], "2026-12-02", "pnpm fuzz -- --seed 7");
    const rows = merged.split("\n").filter((line) => line.startsWith("| reuse") || line.startsWith("| single-shot"));
    expect(rows).toEqual([
      "| reuse | 1000 | 1 / 2 / 3 / 4 / 5 / 985 | 990 | 985 | 5 | 0 | 0 | 4 of 4 | 100.0 → 102.0 (200.0) | 5.0 → 5.5 | 20 → 20 | 100 | 7 | 2026-12-02 | `pnpm fuzz -- --seed 7` |",
      "| single-shot | 100 | 1 / 2 / 3 / 4 / 5 / 85 | 90 | 85 | 5 | 0 | 0 | 4 of 4 | a process per case | a process per case | a process per case | 10 | 7 | 2026-12-02 | `pnpm fuzz -- --seed 7` |",
    ]);
    expect(merged.endsWith("<!-- fuzz:end -->\nafter")).toBe(true);
  });

  it("replaces the row of a mode run again and keeps the other", () => {
    const first = mergeFuzzRows(document, [report("reuse", 1000), report("single-shot", 100)], "2026-12-01", "pnpm fuzz");
    const second = mergeFuzzRows(first, [report("single-shot", 200)], "2026-12-02", "pnpm fuzz -- --mode single-shot");
    expect(second.match(/^\| reuse \| 1000 \|/gm)).toHaveLength(1);
    expect(second.match(/^\| single-shot \| 200 \|.*2026-12-02/gm)).toHaveLength(1);
    expect(second.match(/^\| single-shot \| 100 \|/gm)).toBeNull();
  });

  it("refuses a document without the markers", () => {
    expect(() => mergeFuzzRows("# Reliability\n", [report("reuse", 1)], "2026-12-02", "pnpm fuzz")).toThrow(/no fuzz section/);
  });
});
