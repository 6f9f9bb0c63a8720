import { describe, expect, it } from "vitest";
import { z } from "zod";
import { handler } from "@funker/handler";
import { frameError, framedCall, resultValue, started, testOptions } from "../test-support/wire.js";

// The README's typed example, with test options added (a free loopback port, no exit, no log).
describe("README", () => {
  it("runs the typed example with a schema", async () => {
    const AddArguments = z.object({ x: z.number(), y: z.number() });

    await using server = await started(
      handler(
        async ({ x, y }, { signal, remainingMs }) => {
          signal.throwIfAborted();
          return { sum: x + y, msLeft: remainingMs() };
        },
        { schema: AddArguments, ...testOptions, mode: "reuse" },
      ),
    );

    const result = resultValue(await framedCall(server.port, { x: 1, y: 2 })) as { sum: number; msLeft: number };
    expect(result.sum).toBe(3);
    expect(result.msLeft).toBeGreaterThan(0);
    expect(frameError(await framedCall(server.port, { x: 1 })).code).toBe("bad_arguments");
  });
});
