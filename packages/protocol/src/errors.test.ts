import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FunkerError, errorCodeInfo, errorCodes, isErrorCode } from "@funker/protocol";
import { MAX_CAUSE_DEPTH, causeToWire, describeThrown, readWireError, thrownName, thrownToWireError } from "@funker/protocol/internal";
import type { WireError, WireErrorCause } from "@funker/protocol";

function causeDepth(cause: WireErrorCause | undefined): number {
  let depth = 0;
  for (let current = cause; current !== undefined; current = current.cause) depth += 1;
  return depth;
}

describe("error codes", () => {
  it("errorCodeInfo describes every code, and nothing else", () => {
    expect(Object.keys(errorCodeInfo).sort()).toEqual([...errorCodes].sort());
    for (const code of errorCodes) {
      expect(errorCodeInfo[code].description.length).toBeGreaterThan(0);
      expect(["always", "if-idempotent", "never"]).toContain(errorCodeInfo[code].retry);
    }
  });

  it("retry 'always' only for codes where the function cannot have run", () => {
    for (const code of errorCodes) {
      if (errorCodeInfo[code].retry === "always") expect(errorCodeInfo[code].mayHaveRun, code).toBe(false);
    }
  });

  it("undelivered only for codes where no replica took the call: the function cannot have run", () => {
    expect(errorCodes.filter((code) => errorCodeInfo[code].undelivered)).toEqual(["unavailable", "connection_failed"]);
    for (const code of errorCodes) {
      if (errorCodeInfo[code].undelivered) expect(errorCodeInfo[code].mayHaveRun, code).toBe(false);
    }
  });

  it("'if-idempotent' only for codes where the function may have run (else it would be 'always')", () => {
    for (const code of errorCodes) {
      if (errorCodeInfo[code].retry === "if-idempotent") expect(errorCodeInfo[code].mayHaveRun, code).toBe(true);
    }
  });

  it("retries what certainly was not delivered, and never what cannot succeed", () => {
    expect(errorCodeInfo.unavailable.retry).toBe("always");
    expect(errorCodeInfo.connection_failed.retry).toBe("always");
    expect(errorCodeInfo.handler_crashed.retry).toBe("if-idempotent");
    for (const code of ["not_found", "bad_arguments", "bad_result", "unauthenticated", "payload_too_large", "deadline_exceeded", "cancelled", "handler_error"] as const) {
      expect(errorCodeInfo[code].retry, code).toBe("never");
    }
  });

  it("has the codes the protocol promises", () => {
    for (const code of ["not_found", "unavailable", "connection_failed", "deadline_exceeded", "cancelled", "protocol_error", "payload_too_large", "bad_arguments", "bad_result", "unauthenticated", "handler_error", "handler_crashed"]) {
      expect(isErrorCode(code), code).toBe(true);
    }
    for (const notACode of ["toString", "__proto__", "constructor", "", "NOT_FOUND", 1, null, undefined]) expect(isErrorCode(notACode)).toBe(false);
  });
});

describe("FunkerError", () => {
  it("takes mayHaveRun and retry from its code unless told otherwise", () => {
    const error = new FunkerError("handler_crashed", "gone");
    expect(error.mayHaveRun).toBe(true);
    expect(error.retry).toBe("if-idempotent");
    expect(new FunkerError("handler_crashed", "gone", { mayHaveRun: false }).mayHaveRun).toBe(false);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("FunkerError");
    expect(error.remote).toBe(false);
  });

  it("from() returns a FunkerError as it is and wraps anything else with the given code", () => {
    const original = new FunkerError("cancelled", "stop");
    expect(FunkerError.from(original, "internal")).toBe(original);
    const cause = new TypeError("bad");
    const wrapped = FunkerError.from(cause, "handler_error");
    expect(wrapped.code).toBe("handler_error");
    expect(wrapped.message).toBe("bad");
    expect(wrapped.cause).toBe(cause);
    expect(FunkerError.from("text").code).toBe("internal");
    expect(FunkerError.from("text").message).toBe("text");
    expect(FunkerError.from(undefined).message).toBe("the function threw undefined");
    expect(FunkerError.from({ a: 1 }).message).toBe('the function threw a object: {"a":1}');
  });

  it("toWire/fromWire round-trips code, message, name, data and the cause chain", () => {
    const wire: WireError = {
      code: "handler_error",
      message: "x must be a number",
      name: "ValidationError",
      data: { field: "x" },
      cause: { name: "TypeError", message: "inner", code: "ERR_X", data: [1], cause: { name: "Error", message: "root" } },
    };
    const error = FunkerError.fromWire(wire);
    expect(error.remote).toBe(true);
    expect(error.remoteName).toBe("ValidationError");
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).name).toBe("TypeError");
    expect(error.toWire()).toEqual(wire);
  });

  it("sends stacks only when asked", () => {
    const error = new FunkerError("handler_error", "boom", { cause: new Error("inner") });
    expect(error.toWire().stack).toBeUndefined();
    expect(error.toWire().cause?.stack).toBeUndefined();
    expect(error.toWire(true).stack).toContain("boom");
    expect(error.toWire(true).cause?.stack).toContain("inner");
    const remote = FunkerError.fromWire({ code: "handler_error", message: "boom", stack: "remote stack" });
    expect(remote.toWire(true).stack).toBe("remote stack");
  });

  it("cuts a cause chain at MAX_CAUSE_DEPTH, so a cycle cannot loop", () => {
    const cyclic = new Error("me");
    (cyclic as { cause?: unknown }).cause = cyclic;
    const wire = new FunkerError("handler_error", "outer", { cause: cyclic }).toWire();
    expect(causeDepth(wire.cause)).toBe(MAX_CAUSE_DEPTH);
    expect(causeDepth(causeToWire(cyclic, false))).toBe(MAX_CAUSE_DEPTH + 1);
  });

  it("reads a deep wire cause chain with a bounded depth", () => {
    let cause: WireErrorCause = { name: "Error", message: "root" };
    for (let level = 0; level < 50; level += 1) cause = { name: "Error", message: `level ${level}`, cause };
    const read = readWireError({ code: "handler_error", message: "outer", cause });
    expect(causeDepth(read.cause)).toBeLessThanOrEqual(MAX_CAUSE_DEPTH + 1);
    expect(causeDepth(FunkerError.fromWire(read).toWire().cause)).toBe(MAX_CAUSE_DEPTH);
  });

  it("reads an unknown wire code as internal, keeping the message", () => {
    const read = readWireError({ code: "quota_exceeded", message: "too many" });
    expect(read.code).toBe("internal");
    expect(FunkerError.fromWire(read).message).toBe("too many");
  });

  it("refuses an error body that is not an object or has no message", () => {
    for (const body of [null, "boom", [1], { code: "internal" }, { code: "internal", message: 5 }]) {
      expect(() => readWireError(body)).toThrow(expect.objectContaining({ code: "protocol_error" }));
    }
  });

  it("keeps a cause's data only when JSON can carry it", () => {
    const cause = Object.assign(new Error("inner"), { code: "E_INNER", data: { n: 1n } });
    const wire = causeToWire(cause, false);
    expect(wire).toEqual({ name: "Error", message: "inner", code: "E_INNER" });
  });

  it("describes thrown non-errors", () => {
    expect(thrownName(new RangeError("x"))).toBe("RangeError");
    expect(thrownName(null)).toBe("null");
    expect(thrownName(5)).toBe("number");
    expect(describeThrown(null)).toBe("the function threw null");
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect(describeThrown(cyclic)).toBe("the function threw a object");
    expect(causeToWire("plain", false)).toEqual({ name: "string", message: "plain" });
  });

  it("fromWire never throws for any error body readWireError accepts", () => {
    fc.assert(
      fc.property(fc.record({ code: fc.string(), message: fc.string(), name: fc.option(fc.string(), { nil: undefined }), cause: fc.option(fc.jsonValue(), { nil: undefined }) }), (body) => {
        const error = FunkerError.fromWire(readWireError(body));
        expect(isErrorCode(error.code)).toBe(true);
        expect(error.message).toBe(body.message);
      }),
      { numRuns: 200 },
    );
  });
});

describe("thrownToWireError: what a caller receives for something a function threw", () => {
  it("sends an Error's name, message, data and causes, and its stack only when asked", () => {
    const cause = Object.assign(new TypeError("inner"), { code: "E_INNER" });
    const thrown = Object.assign(new RangeError("outer", { cause }), { data: { field: "x" } });
    expect(thrownToWireError("handler_error", thrown, false)).toEqual({
      code: "handler_error",
      name: "RangeError",
      message: "outer",
      data: { field: "x" },
      cause: { name: "TypeError", message: "inner", code: "E_INNER" },
    });
    const withStacks = thrownToWireError("handler_error", thrown, true);
    expect(withStacks.stack).toBe(thrown.stack);
    expect(withStacks.cause?.stack).toBe(cause.stack);
  });

  it("names a thrown non-Error after its JS type and describes it", () => {
    expect(thrownToWireError("handler_error", "plain", true)).toEqual({ code: "handler_error", name: "string", message: "plain" });
    expect(thrownToWireError("handler_error", { reason: 1 }, true)).toEqual({ code: "handler_error", name: "object", message: 'the function threw a object: {"reason":1}' });
    expect(thrownToWireError("handler_error", undefined, true)).toEqual({ code: "handler_error", name: "undefined", message: "the function threw undefined" });
  });

  it("cuts a cyclic cause chain at MAX_CAUSE_DEPTH, as FunkerError.toWire does", () => {
    const cyclic = new Error("me");
    (cyclic as { cause?: unknown }).cause = cyclic;
    expect(causeDepth(thrownToWireError("handler_error", cyclic, false).cause)).toBe(MAX_CAUSE_DEPTH);
  });

  it("leaves out data the error body's encoder would refuse, from the error that holds it alone", () => {
    for (const data of [{ n: 1n }, { n: Number.NaN }, new Map([["k", "v"]]), { f: () => 1 }]) {
      const cause = Object.assign(new Error("inner"), { data });
      const wire = thrownToWireError("handler_error", Object.assign(new Error("outer", { cause }), { data }), false);
      expect(wire).toEqual({ code: "handler_error", name: "Error", message: "outer", cause: { name: "Error", message: "inner" } });
    }
  });
});
