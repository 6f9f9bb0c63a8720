import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { StandardSchemaV1 } from "@funker/handler";
import { handler } from "@funker/handler";
import { frameError, framedCall, resultValue, started, testOptions } from "../test-support/wire.js";

describe("schema", () => {
  it("validates and transforms the arguments before the function runs", async () => {
    const schema = z.object({ x: z.number(), y: z.number().default(10) });
    await using server = await started(handler((args) => args.x + args.y, { ...testOptions, schema }));
    expect(resultValue(await framedCall(server.port, { x: 1 }))).toBe(11);
  });

  it("answers invalid arguments with bad_arguments carrying the issues, without running the function", async () => {
    let ran = false;
    await using server = await started(
      handler(
        () => {
          ran = true;
        },
        { ...testOptions, schema: z.object({ x: z.number(), y: z.number() }) },
      ),
    );
    const error = frameError(await framedCall(server.port, { x: "one" }));
    expect(error.code).toBe("bad_arguments");
    expect(error.message).toContain("x");
    const issues = (error.data as { issues: { message: string; path: (string | number)[] }[] }).issues;
    expect(issues.map((issue) => issue.path)).toEqual([["x"], ["y"]]);
    expect(ran).toBe(false);
  });

  it("accepts any Standard Schema validator, also an asynchronous one", async () => {
    const evenNumber: StandardSchemaV1<unknown, number> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: async (value) =>
          typeof value === "number" && value % 2 === 0 ? { value } : { issues: [{ message: "must be an even number", path: [{ key: "value" }] }] },
      },
    };
    await using server = await started(handler((args) => args / 2, { ...testOptions, mode: "reuse", schema: evenNumber }));
    expect(resultValue(await framedCall(server.port, 8))).toBe(4);
    const error = frameError(await framedCall(server.port, 7));
    expect(error).toMatchObject({ code: "bad_arguments", data: { issues: [{ message: "must be an even number", path: ["value"] }] } });
  });

  it("ends an asynchronous validation that never settles at the deadline, and frees the replica", async () => {
    // Regression: the deadline fired while the validator was pending, and nothing answered the caller.
    let validations = 0;
    const stuck: StandardSchemaV1<unknown, unknown> = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: (value) => {
          validations += 1;
          return validations === 1 ? new Promise(() => undefined) : { value };
        },
      },
    };
    await using server = await started(handler((args) => args, { ...testOptions, mode: "reuse", schema: stuck }));
    const error = frameError(await framedCall(server.port, 1, { deadline: Date.now() + 200 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(resultValue(await framedCall(server.port, 2))).toBe(2);
  });

  it("refuses an option that is not a Standard Schema at start-up", () => {
    expect(() => handler(() => null, { ...testOptions, schema: {} as StandardSchemaV1 })).toThrow(/schema/);
  });
});
