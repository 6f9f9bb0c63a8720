import { describe, expect, it } from "vitest";
import { FunkerError } from "@funker/protocol";
import type { CallInfo } from "@funker/handler";
import { deferred, frameError, framedCall, legacyCall, legacyCallJson, legacyError, resultValue, serve } from "../test-support/wire.js";

describe("handler: results", () => {
  it("serves the 2017 seed's callback-style function, verbatim apart from the types", async () => {
    await using server = await serve(function (args: { x: number; y: number }, callback) {
      callback(args.x + args.y);
    });
    expect(await legacyCallJson(server.port, '{"x":1,"y":2}')).toBe(3);
  });

  it("serves legacy and framed callers on the same port", async () => {
    await using server = await serve((args: { x: number; y: number }) => args.x + args.y, { mode: "reuse" });
    expect(await legacyCallJson(server.port, '{"x":1,"y":2}')).toBe(3);
    expect(resultValue(await framedCall(server.port, { x: 2, y: 3 }))).toBe(5);
    expect(server.server.state.callsServed).toBe(2);
  });

  it("takes a returned promise's value as the result", async () => {
    await using server = await serve(async (args: { x: number }) => args.x * 2);
    expect(await legacyCallJson(server.port, '{"x":21}')).toBe(42);
  });

  it("takes a returned value over a later callback call", async () => {
    await using server = await serve((_args: unknown, callback) => {
      setImmediate(() => callback("from the callback"));
      return "returned";
    });
    expect(resultValue(await framedCall(server.port, {}))).toBe("returned");
  });

  it("takes a returned promise over a callback call made while it runs", async () => {
    await using server = await serve(async (_args: unknown, callback) => {
      callback("from the callback");
      return "resolved";
    });
    expect(resultValue(await framedCall(server.port, {}))).toBe("resolved");
  });

  it("waits for the callback when a two-parameter function returns undefined", async () => {
    await using server = await serve((_args: unknown, callback) => {
      setTimeout(() => callback({ late: true }), 10);
    });
    expect(resultValue(await framedCall(server.port, {}))).toEqual({ late: true });
  });

  it("ignores callback calls after the first", async () => {
    await using server = await serve((_args: unknown, callback) => {
      callback(1);
      callback(2);
    });
    expect(resultValue(await framedCall(server.port, {}))).toBe(1);
  });

  it("answers null when a one-parameter function returns undefined", async () => {
    await using server = await serve((_args: unknown) => undefined);
    expect(await legacyCallJson(server.port, "{}")).toBeNull();
  });

  it("answers null when a function of no parameters returns nothing", async () => {
    await using server = await serve(() => {});
    expect(resultValue(await framedCall(server.port, {}))).toBeNull();
  });

  it("gives the function the call's context", async () => {
    const seen = deferred<CallInfo>();
    await using server = await serve(
      (_args: unknown, context) => {
        seen.resolve(context);
        return context.remainingMs() > 0;
      },
      { mode: "reuse" },
    );
    const deadline = Date.now() + 20_000;
    const frame = await framedCall(
      server.port,
      {},
      { id: "abc", function: "add", deadline, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", metadata: { tenant: "t1" } },
    );
    expect(resultValue(frame)).toBe(true);
    const context = await seen.promise;
    expect(context.id).toBe("abc");
    expect(context.functionName).toBe("add");
    expect(context.protocol).toBe("framed");
    expect(context.deadline).toBe(deadline);
    expect(context.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(context.metadata["tenant"]).toBe("t1");
    expect(context.signal).toBeInstanceOf(AbortSignal);
  });

  it("gives legacy callers a generated id and the timeout as their deadline", async () => {
    const seen = deferred<CallInfo>();
    await using server = await serve(
      (_args: unknown, context) => {
        seen.resolve(context);
        return null;
      },
      { timeout: "5s" },
    );
    const before = Date.now();
    await legacyCall(server.port, "{}");
    const context = await seen.promise;
    expect(context.protocol).toBe("legacy");
    expect(context.id).toMatch(/^legacy-[0-9a-z]+-[0-9a-z]+$/);
    expect(context.functionName).toBeUndefined();
    expect(context.deadline).toBeGreaterThanOrEqual(before + 5_000);
    expect(context.deadline).toBeLessThanOrEqual(Date.now() + 5_000);
  });

  it("uses the earlier of the caller's deadline and the timeout", async () => {
    const seen = deferred<number>();
    await using server = await serve(
      (_args: unknown, context) => {
        seen.resolve(context.deadline);
        return null;
      },
      { timeout: "2s" },
    );
    const before = Date.now();
    await framedCall(server.port, {}, { deadline: Date.now() + 3_600_000 });
    const deadline = await seen.promise;
    expect(deadline).toBeGreaterThanOrEqual(before + 2_000);
    expect(deadline).toBeLessThan(before + 3_600_000);
  });
});

describe("handler: errors thrown by the function", () => {
  it("sends an Error as handler_error with its name, message, data and cause", async () => {
    await using server = await serve(
      () => {
        const error = new RangeError("x is too big", { cause: new Error("inner") });
        (error as RangeError & { data?: unknown }).data = { limit: 10 };
        throw error;
      },
      { exposeStacks: false },
    );
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "handler_error", name: "RangeError", message: "x is too big", data: { limit: 10 } });
    expect(error.cause).toMatchObject({ name: "Error", message: "inner" });
    expect(error.stack).toBeUndefined();
  });

  it("sends the stack only when stacks are exposed", async () => {
    await using server = await serve(
      () => {
        throw new TypeError("boom");
      },
      { exposeStacks: true },
    );
    const error = legacyError(await legacyCall(server.port, "{}"));
    expect(error.code).toBe("handler_error");
    expect(error.stack).toContain("TypeError: boom");
  });

  it("sends a thrown string as handler_error named string", async () => {
    await using server = await serve(() => {
      throw "plain text";
    });
    expect(frameError(await framedCall(server.port, {}))).toMatchObject({ code: "handler_error", name: "string", message: "plain text" });
  });

  it("sends a thrown undefined as handler_error named undefined", async () => {
    await using server = await serve(() => {
      throw undefined;
    });
    expect(legacyError(await legacyCall(server.port, "{}"))).toMatchObject({ code: "handler_error", name: "undefined" });
  });

  it("sends a thrown plain object as handler_error named object", async () => {
    await using server = await serve(() => {
      throw { reason: "no" };
    });
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "handler_error", name: "object" });
    expect(error.message).toContain('{"reason":"no"}');
  });

  it("sends a rejection as handler_error", async () => {
    await using server = await serve(async () => {
      throw new Error("rejected");
    });
    expect(frameError(await framedCall(server.port, {}))).toMatchObject({ code: "handler_error", message: "rejected" });
    await server.server.closed;
    expect(server.server.state).toEqual({ status: "closed", inFlight: 0, callsServed: 1, lastError: { code: "handler_error", message: "rejected" } });
  });

  it("keeps the code of a FunkerError the function throws", async () => {
    await using server = await serve(() => {
      throw new FunkerError("bad_arguments", "x must be positive", { data: { field: "x" } });
    });
    expect(frameError(await framedCall(server.port, {}))).toMatchObject({ code: "bad_arguments", message: "x must be positive", data: { field: "x" } });
  });

  it("sends handler_error for a result JSON cannot carry, with the encoder's bad_result as the cause", async () => {
    await using server = await serve(() => 10n);
    const message = "the result is not valid JSON: the top-level value is a BigInt, which JSON cannot carry";
    expect(frameError(await framedCall(server.port, {}))).toEqual({ code: "handler_error", name: "FunkerError", message, cause: { code: "bad_result", name: "FunkerError", message } });
  });

  it("sends payload_too_large for a result above the payload limit", async () => {
    await using server = await serve(() => "x".repeat(2_000), { maxPayloadBytes: 1_000, mode: "reuse" });
    const expected = { code: "payload_too_large", message: "the result is at least 2002 bytes; the limit is 1000", data: { atLeast: 2_002, limit: 1_000 } };
    expect(legacyError(await legacyCall(server.port, "{}"))).toMatchObject(expected);
    expect(frameError(await framedCall(server.port, {}))).toMatchObject(expected);
  });

  it("refuses a result over the limit before its text is built: a later member's toJSON never runs", async () => {
    let laterEncoded = false;
    await using server = await serve(() => ({ text: "x".repeat(50 * 1024 * 1024), later: { toJSON: () => (laterEncoded = true) } }));
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "payload_too_large", data: { limit: 8 * 1024 * 1024 } });
    expect(error.message).toMatch(/^the result is at least \d+ bytes; the limit is 8388608$/);
    expect(laterEncoded).toBe(false);
  });

  it("answers payload_too_large for a result longer than a JavaScript string can hold", async () => {
    await using server = await serve(() => ({ toJSON: () => { throw new RangeError("Invalid string length"); } }));
    expect(frameError(await framedCall(server.port, {}))).toMatchObject({ code: "payload_too_large", message: "the result is longer than a JavaScript string can hold; the limit is 8388608" });
  });

  it("answers deadline_exceeded when the function never settles", async () => {
    await using server = await serve(() => new Promise(() => undefined), { timeout: 300 });
    expect(frameError(await framedCall(server.port, {})).code).toBe("deadline_exceeded");
  });

  it("answers deadline_exceeded to a legacy caller when a callback never comes", async () => {
    await using server = await serve((_args: unknown, _callback) => undefined, { timeout: 300 });
    expect(legacyError(await legacyCall(server.port, "{}")).code).toBe("deadline_exceeded");
  });

  it("fires the abort signal at the deadline", async () => {
    const aborted = deferred<unknown>();
    await using server = await serve((_args: unknown, context) => {
      context.signal.addEventListener("abort", () => aborted.resolve(context.signal.reason));
      return new Promise(() => undefined);
    }, { drainTimeout: 100 });
    const frame = await framedCall(server.port, {}, { deadline: Date.now() + 200 });
    expect(frameError(frame).code).toBe("deadline_exceeded");
    expect(await aborted.promise).toMatchObject({ code: "deadline_exceeded" });
  });

  it("answers deadline_exceeded without running the function when the deadline has passed", async () => {
    let ran = false;
    await using server = await serve(() => {
      ran = true;
    });
    expect(frameError(await framedCall(server.port, {}, { deadline: Date.now() - 1_000 })).code).toBe("deadline_exceeded");
    expect(ran).toBe(false);
  });
});
