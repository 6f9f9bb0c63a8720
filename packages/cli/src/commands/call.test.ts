import { describe, expect, it } from "vitest";
import { UsageError } from "./command.js";
import { parseKeyValueArguments } from "./call.js";

describe("key=value arguments", () => {
  it("reads JSON values and keeps other text as strings", () => {
    expect(parseKeyValueArguments(["x=1", "ok=true", "name=Ada", 'id="42"', "tags=[1,2]", "empty=", "eq=a=b"])).toEqual({
      x: 1,
      ok: true,
      name: "Ada",
      id: "42",
      tags: [1, 2],
      empty: "",
      eq: "a=b",
    });
  });

  it("rejects words that are not key=value, and repeated keys", () => {
    expect(() => parseKeyValueArguments(["x"])).toThrow(UsageError);
    expect(() => parseKeyValueArguments(["=1"])).toThrow('argument "=1" has no name before "="');
    expect(() => parseKeyValueArguments(["x=1", "x=2"])).toThrow('argument "x" is given twice');
  });
});
