import { describe, expect, it } from "vitest";
import { readScaleBounds, ScaleLabelError } from "./labels.js";

describe("readScaleBounds", () => {
  it("reads the labels funker deploy writes, with defaults for warm and idle", () => {
    expect(readScaleBounds({ "io.funker.function": "add", "io.funker.scale.min": "1", "io.funker.scale.max": "8" })).toEqual({
      min: 1,
      max: 8,
      warm: 1,
      idleMs: 300_000,
    });
    expect(
      readScaleBounds({ "io.funker.scale.min": "2", "io.funker.scale.max": "4", "io.funker.scale.warm": "0", "io.funker.scale.idle-ms": "5000" }),
    ).toEqual({ min: 2, max: 4, warm: 0, idleMs: 5_000 });
  });

  it("leaves a function without scale labels unmanaged", () => {
    expect(readScaleBounds({ "io.funker.function": "add", "io.funker.mode": "reuse" })).toBeUndefined();
  });

  it.each([
    [{ "io.funker.scale.min": "5", "io.funker.scale.max": "2" }, "io.funker.scale.max (2) is below io.funker.scale.min (5)"],
    [{ "io.funker.scale.max": "eight" }, 'io.funker.scale.max must be a whole number from 1 to 100; got "eight"'],
    [{ "io.funker.scale.max": "0" }, 'io.funker.scale.max must be a whole number from 1 to 100; got "0"'],
    [{ "io.funker.scale.max": "8", "io.funker.scale.min": "-1" }, 'io.funker.scale.min must be a whole number from 0 to 100; got "-1"'],
    [{ "io.funker.scale.max": "8", "io.funker.scale.warm": "1.5" }, 'io.funker.scale.warm must be a whole number from 0 to 100; got "1.5"'],
    [{ "io.funker.scale.max": "1000" }, 'io.funker.scale.max must be a whole number from 1 to 100; got "1000"'],
    [{ "io.funker.scale.max": "8", "io.funker.scale.idle-ms": "5m" }, 'io.funker.scale.idle-ms must be a whole number from 1 to 2147483647; got "5m"'],
    [{ "io.funker.scale.min": "1" }, "io.funker.scale.min is set but io.funker.scale.max is missing"],
  ])("refuses %j with a ScaleLabelError that names the label", (labels, message) => {
    let thrown: unknown;
    try {
      readScaleBounds(labels);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ScaleLabelError);
    expect(thrown).toMatchObject({ code: "bad_scale_label", message });
  });
});
