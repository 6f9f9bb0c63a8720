import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  FunkerError,
  LEGACY_ERROR_KEY,
  LegacyBodyCollector,
  MAX_PAYLOAD_BYTES_LIMIT,
  PREFACE,
  decodeJson,
  decodeLegacyReply,
  hasLegacyMark,
  withLegacyMark,
  detectWireMode,
  encodeLegacyError,
  encodeLegacyReply,
  encodeLegacyRequest,
} from "@funker/protocol";
import { encodeUtf8 } from "@funker/protocol/internal";

describe("legacy mode", () => {
  it("a request is the arguments' JSON text and nothing else", () => {
    expect(Buffer.from(encodeLegacyRequest({ x: 1, y: 2 })).toString()).toBe('{"x":1,"y":2}');
    expect(Buffer.from(encodeLegacyRequest(undefined)).toString()).toBe("null");
  });

  it("refuses arguments above the limit before sending them", () => {
    expect(() => encodeLegacyRequest("x".repeat(20), 10)).toThrow(expect.objectContaining({ code: "payload_too_large", mayHaveRun: false }));
  });

  it("reads a reply value, and undefined as null", () => {
    expect(decodeLegacyReply(encodeLegacyReply({ sum: 3 }))).toEqual({ ok: true, value: { sum: 3 }, marked: false });
    expect(decodeLegacyReply(encodeLegacyReply(undefined))).toEqual({ ok: true, value: null, marked: false });
  });

  it("reads Funker's legacy error object as a remote FunkerError", () => {
    const reply = decodeLegacyReply(encodeLegacyError({ code: "bad_arguments", message: "x is missing", name: "ValidationError", data: { field: "x" }, cause: { name: "Error", message: "inner" } }));
    expect(reply.ok).toBe(false);
    if (reply.ok) return;
    expect(reply.error).toBeInstanceOf(FunkerError);
    expect(reply.error).toMatchObject({ code: "bad_arguments", message: "x is missing", remote: true, remoteName: "ValidationError", data: { field: "x" } });
    expect((reply.error.cause as Error).message).toBe("inner");
  });

  it("reads an object that merely contains a funkerError key among others as a value, not an error", () => {
    const value = { [LEGACY_ERROR_KEY]: { code: "handler_error", message: "m" }, other: true };
    expect(decodeLegacyReply(encodeLegacyReply(value))).toEqual({ ok: true, value, marked: false });
  });

  it("reads a funkerError object without a known code as a value", () => {
    for (const value of [{ [LEGACY_ERROR_KEY]: { code: "nope", message: "m" } }, { [LEGACY_ERROR_KEY]: "text" }, { [LEGACY_ERROR_KEY]: null }]) {
      expect(decodeLegacyReply(encodeLegacyReply(value))).toEqual({ ok: true, value, marked: false });
    }
  });

  it("reads an empty reply as handler_crashed, never as null", () => {
    const reply = decodeLegacyReply(new Uint8Array(0));
    expect(reply.ok).toBe(false);
    if (!reply.ok) {
      expect(reply.error.code).toBe("handler_crashed");
      expect(reply.error.mayHaveRun).toBe(true);
    }
  });

  it("refuses a reply that is not JSON with protocol_error", () => {
    expect(() => decodeLegacyReply(encodeUtf8("Traceback"))).toThrow(expect.objectContaining({ code: "protocol_error" }));
  });

  it("round-trips any JSON value as a reply that is not an error object", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(!JSON.stringify(value).includes("__proto__") && !JSON.stringify(value).includes("constructor"));
        const reply = decodeLegacyReply(encodeLegacyReply(value));
        expect(reply).toEqual({ ok: true, value: decodeJson(encodeUtf8(JSON.stringify(value))), marked: false });
      }),
      { numRuns: 200 },
    );
  });
});

describe("LegacyBodyCollector", () => {
  it("joins chunks in order", () => {
    const collector = new LegacyBodyCollector(100);
    for (const part of ['{"x"', ":", "1}"]) collector.push(encodeUtf8(part));
    collector.push(new Uint8Array(0));
    expect(collector.receivedBytes).toBe(7);
    expect(decodeJson(collector.bytes())).toEqual({ x: 1 });
  });

  it("hands back a single chunk without copying", () => {
    const chunk = encodeUtf8("[1]");
    const collector = new LegacyBodyCollector();
    collector.push(chunk);
    expect(collector.bytes()).toBe(chunk);
    expect(new LegacyBodyCollector().bytes()).toHaveLength(0);
  });

  it("accepts exactly the limit and refuses the first byte past it", () => {
    const collector = new LegacyBodyCollector(10);
    collector.push(new Uint8Array(6));
    collector.push(new Uint8Array(4));
    expect(() => collector.push(new Uint8Array(1))).toThrow(expect.objectContaining({ code: "payload_too_large", data: { limit: 10 } }));
  });

  it("refuses one oversized chunk at once", () => {
    expect(() => new LegacyBodyCollector(10).push(new Uint8Array(11))).toThrow(expect.objectContaining({ code: "payload_too_large" }));
  });

  it("defaults to DEFAULT_MAX_PAYLOAD_BYTES and refuses limits out of range", () => {
    expect(new LegacyBodyCollector().maxPayloadBytes).toBe(DEFAULT_MAX_PAYLOAD_BYTES);
    for (const limit of [0, -1, 1.5, MAX_PAYLOAD_BYTES_LIMIT + 1, Number.NaN]) expect(() => new LegacyBodyCollector(limit)).toThrow(RangeError);
  });
});

describe("detectWireMode", () => {
  it("needs one byte: NUL is framed, anything else legacy", () => {
    expect(detectWireMode(new Uint8Array(0))).toBeUndefined();
    expect(detectWireMode(PREFACE.subarray(0, 1))).toBe("framed");
    expect(detectWireMode(PREFACE)).toBe("framed");
    for (const start of ["{", "[", '"', "1", "-", "t", "f", "n", " ", "\n", "\uFEFF{"]) expect(detectWireMode(encodeUtf8(start))).toBe("legacy");
  });

  it("no JSON text the legacy encoders write starts with NUL", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(detectWireMode(encodeLegacyRequest(value))).toBe("legacy");
      }),
      { numRuns: 200 },
    );
  });
});

describe("the legacy mark", () => {
  it("is JSON whitespace: a marked request parses to the same arguments, as a 2017 function reads it", () => {
    const marked = encodeLegacyRequest({ x: 1, y: 2 }, undefined, { marked: true });
    expect(hasLegacyMark(marked)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(marked))).toEqual({ x: 1, y: 2 });
    expect(decodeJson(marked)).toEqual({ x: 1, y: 2 });
  });

  it("says whether a reply came from a Funker handler, for values and errors alike", () => {
    expect(decodeLegacyReply(withLegacyMark(encodeLegacyReply(3)))).toEqual({ ok: true, value: 3, marked: true });
    const error = decodeLegacyReply(withLegacyMark(encodeLegacyError({ code: "handler_error", message: "m" })));
    expect(error).toMatchObject({ ok: false, marked: true, error: { code: "handler_error" } });
    expect(hasLegacyMark(encodeLegacyReply(3))).toBe(false);
    expect(hasLegacyMark(encodeLegacyReply(" leading space in a string"))).toBe(false);
  });

  it("is never written by a plain JSON encoder, so a 2017 peer never sends it", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(hasLegacyMark(encodeUtf8(JSON.stringify(value)))).toBe(false);
      }),
    );
  });
});
