import { describe, expect, it } from "vitest";
import { heldUp, reconcile } from "./reconcile.js";
import type { Told } from "./reconcile.js";

const ok = (value: number): Told => ({ ok: true, value });
const failed = (code: string, mayHaveRun: boolean): Told => ({ ok: false, code, mayHaveRun });

describe("reconciling what callers were told against what ran", () => {
  it.each([
    ["a success that ran once", ok(1), 1, { succeeded: 1 }, true],
    ["a success that never ran is lost", ok(1), 0, { succeeded: 1, lost: 1 }, false],
    ["a success that ran twice is duplicated", ok(1), 2, { succeeded: 1, duplicated: 1 }, false],
    ["a success with another value", ok(2), 1, { succeeded: 1, wrongValue: 1 }, false],
    ["a call that never settled is lost", undefined, 0, { lost: 1 }, false],
    ["'did not run' that did not run", failed("unavailable", false), 0, { errors: { unavailable: 1 } }, true],
    ["'did not run' that ran is wrong", failed("unavailable", false), 1, { errors: { unavailable: 1 }, wrongNotRun: 1 }, false],
    ["'may have run' that ran", failed("handler_crashed", true), 1, { errors: { handler_crashed: 1 }, mayHaveRun: 1, mayHaveRunExecuted: 1 }, true],
    ["'may have run' that did not", failed("handler_crashed", true), 0, { errors: { handler_crashed: 1 }, mayHaveRun: 1, mayHaveRunExecuted: 0 }, true],
  ] as const)("%s", (_name, told, executions, expected, held) => {
    const result = reconcile(new Map([[1, told]]), new Map(executions === 0 ? [] : [[1, executions]]));
    expect(result).toMatchObject({ calls: 1, succeeded: 0, lost: 0, duplicated: 0, wrongNotRun: 0, wrongValue: 0, mayHaveRun: 0, errors: {}, ...expected });
    expect(heldUp(result)).toBe(held);
  });

  it("counts an execution of an id nobody called as a duplicate, with the id as an example", () => {
    const result = reconcile(new Map([[1, ok(1)]]), new Map([[1, 1], [7, 1]]));
    expect(result.duplicated).toBe(1);
    expect(result.examples["executedButNeverCalled"]).toEqual([7]);
  });
});
