import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  FrameDecoder,
  FunkerError,
  PREFACE,
  PROTOCOL_VERSION,
  decodeJson,
  decodeLegacyReply,
  encodeCall,
  encodeCancel,
  encodeError,
  encodeHeartbeat,
  encodeLegacyError,
  encodeLegacyReply,
  encodeLegacyRequest,
  encodeResult,
} from "@funker/protocol";
import { encodeUtf8 } from "@funker/protocol/internal";
import type { CallHeader, Frame, WireError } from "@funker/protocol";

/*
 * The golden vectors in ../test-vectors/vectors.json are built here from the
 * encoders, and the file must match byte for byte, so the vectors can never
 * drift from the code. To regenerate after an intended change:
 *   node packages/protocol/scripts/generate-vectors.mjs
 */

const vectorsUrl = new URL("../test-vectors/vectors.json", import.meta.url);
const regenerate = process.env["FUNKER_UPDATE_VECTORS"] === "1";

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, "hex"));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A frame built by hand, for extension types and for malformed frames the encoders refuse to make. */
function rawFrame(type: number, header: Uint8Array | string, body: Uint8Array | string = "", claimedHeaderLength?: number): Uint8Array {
  const headerBytes = typeof header === "string" ? encodeUtf8(header) : header;
  const bodyBytes = typeof body === "string" ? encodeUtf8(body) : body;
  const bytes = new Uint8Array(9 + headerBytes.length + bodyBytes.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint32(1, 4 + headerBytes.length + bodyBytes.length);
  view.setUint32(5, claimedHeaderLength ?? headerBytes.length);
  bytes.set(headerBytes, 9);
  bytes.set(bodyBytes, 9 + headerBytes.length);
  return bytes;
}

/** What a frame means, as plain JSON: the body decoded, defaults filled in. */
function meaning(frame: Frame): Record<string, unknown> {
  switch (frame.type) {
    case "call": {
      const { body, metadata, ...rest } = frame;
      const call: Record<string, unknown> = { ...rest };
      if (metadata !== undefined) call["metadata"] = { ...metadata };
      call["args"] = decodeJson(body);
      return call;
    }
    case "result": {
      const { body, ...rest } = frame;
      return { ...rest, value: decodeJson(body) };
    }
    case "error":
    case "heartbeat":
    case "cancel":
      return { ...frame };
    default: {
      const unreachable: never = frame;
      return unreachable;
    }
  }
}

const typeNames: Record<number, string> = { 1: "call", 2: "result", 3: "error", 4: "heartbeat", 5: "cancel" };

interface FrameVector {
  name: string;
  description: string;
  hex: string;
  type: number;
  typeName: string;
  payloadLength: number;
  headerLength: number;
  header: Record<string, unknown>;
  /** The body's JSON value; absent when the body is empty. */
  body?: unknown;
  /** Raw body bytes, for extension frames whose body is not JSON. */
  bodyHex?: string;
  /** True when a v1 receiver must skip the frame. */
  skip?: boolean;
  /** The frame as a v1 decoder reports it (absent when skipped). */
  decoded?: Record<string, unknown>;
}

function frameVector(name: string, description: string, bytes: Uint8Array, skip = false): FrameVector {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(0);
  const payloadLength = view.getUint32(1);
  const headerLength = view.getUint32(5);
  const headerBytes = bytes.subarray(9, 9 + headerLength);
  const bodyBytes = bytes.subarray(9 + headerLength);
  const vector: FrameVector = {
    name,
    description,
    hex: toHex(bytes),
    type,
    typeName: typeNames[type] ?? "extension",
    payloadLength,
    headerLength,
    header: decodeJson(headerBytes) as Record<string, unknown>,
  };
  if (skip) {
    vector.bodyHex = toHex(bodyBytes);
    vector.skip = true;
    return vector;
  }
  if (bodyBytes.length > 0) vector.body = decodeJson(bodyBytes);
  const [decoded, ...extra] = new FrameDecoder().push(bytes);
  if (decoded === undefined || extra.length > 0) throw new Error(`${name} is not exactly one frame`);
  vector.decoded = meaning(decoded);
  return vector;
}

const DEADLINE = 1_767_225_600_000; // 2026-01-01T00:00:00Z

const fullCallHeader: CallHeader = {
  id: "0b7e6a1c-4f2d-4c1e-9a3b-2d5f8e9c7a10",
  function: "add",
  deadline: DEADLINE,
  heartbeatIntervalMs: 5000,
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "congo=t61rcWkgMzE",
  metadata: { tenant: "acme", "request-id": "r-42" },
  auth: { scheme: "hmac-sha256", keyId: "k1", signature: "c2lnbmF0dXJl" },
};

const errorWithCauses: WireError = {
  code: "handler_error",
  message: "x must be a number",
  name: "ValidationError",
  data: { field: "x", got: "one" },
  cause: {
    name: "TypeError",
    message: "cannot convert \"one\" to a number",
    code: "ERR_INVALID_ARG_TYPE",
    cause: { name: "Error", message: "root cause" },
  },
};

interface LegacyVector {
  name: string;
  description: string;
  direction: "caller-to-handler" | "handler-to-caller";
  hex: string;
  /** The bytes as text (they are UTF-8 JSON, or empty). */
  text: string;
  /** For requests: the arguments. For replies: `{ok: true, value}` or `{ok: false, error}` as the caller reads it. */
  decoded: unknown;
}

function legacyReplyVector(name: string, description: string, bytes: Uint8Array): LegacyVector {
  const reply = decodeLegacyReply(bytes);
  const decoded = reply.ok ? { ok: true, value: reply.value } : { ok: false, error: reply.error.toWire() };
  return { name, description, direction: "handler-to-caller", hex: toHex(bytes), text: Buffer.from(bytes).toString("utf8"), decoded };
}

interface NegativeVector {
  name: string;
  description: string;
  /** True for the handler side: the bytes are a caller's stream and start with the preface. */
  expectPreface: boolean;
  hex: string;
  /** The error a v1 receiver must report. */
  error: "protocol_error" | "payload_too_large";
  /**
   * How many bytes the reference decoder needs before it fails when fed one byte at a time,
   * or "end" when it fails only once the stream ends.
   */
  failsAfter: number | "end";
}

function failurePoint(bytes: Uint8Array, expectPreface: boolean): { code: string; failsAfter: number | "end" } {
  const decoder = new FrameDecoder({ expectPreface });
  for (let index = 0; index < bytes.length; index += 1) {
    try {
      decoder.push(bytes.subarray(index, index + 1));
    } catch (error) {
      if (!(error instanceof FunkerError)) throw error;
      return { code: error.code, failsAfter: index + 1 };
    }
  }
  try {
    decoder.end();
  } catch (error) {
    if (!(error instanceof FunkerError)) throw error;
    return { code: error.code, failsAfter: "end" };
  }
  throw new Error("the bytes decoded without an error");
}

function negativeVector(name: string, description: string, bytes: Uint8Array, expectPreface: boolean): NegativeVector {
  const { code, failsAfter } = failurePoint(bytes, expectPreface);
  if (code !== "protocol_error" && code !== "payload_too_large") throw new Error(`unexpected code ${code}`);
  return { name, description, expectPreface, hex: toHex(bytes), error: code, failsAfter };
}

function buildVectors() {
  const callId = fullCallHeader.id;
  const addCall = encodeCall({ id: "call-1", function: "add", deadline: DEADLINE }, { x: 1, y: 2 });
  const addResult = encodeResult("call-1", 3);
  const validHeartbeat = encodeHeartbeat("call-1");
  return {
    format: "funker-protocol-test-vectors",
    protocolVersion: PROTOCOL_VERSION,
    notes: [
      "Every hex string is the exact bytes on the wire. JSON texts are compact, with keys in the order shown; a receiver MUST accept any valid JSON (whitespace, key order), so compare decoded meaning when your encoder orders keys differently.",
      "frames: one frame each, without the preface. 'decoded' is what a v1 receiver reports: absent optional header fields are omitted, keepAlive defaults to false, call and result bodies are shown decoded as 'args' and 'value'.",
      "negative: feed 'hex' to a receiver (after which it would see the end of the stream); it must fail with 'error'. 'failsAfter' is when the reference decoder fails when fed one byte at a time; a receiver SHOULD fail no later.",
    ],
    preface: { hex: toHex(PREFACE), text: "\u0000FUNKER\u0001", version: PROTOCOL_VERSION },
    frames: [
      frameVector("call-full", "a call with every optional header field", encodeCall(fullCallHeader, { x: 1, y: 2 })),
      frameVector("call-minimal", "a call with only the required header fields", addCall),
      frameVector("call-no-arguments", "a call whose arguments are undefined: the body is null", encodeCall({ id: "call-2", function: "tick", deadline: DEADLINE }, undefined)),
      frameVector("result", "the result of call-1; the handler closes after it", addResult),
      frameVector("result-keep-alive", "a result after which the handler keeps the connection for another call", encodeResult("call-1", 3, true)),
      frameVector("result-undefined", "a function that returned undefined: the result is null", encodeResult("call-1", undefined)),
      frameVector("error-with-causes", "a handler error with data and a cause chain", encodeError(callId, errorWithCauses)),
      frameVector(
        "error-empty-id",
        "an error sent before any call id was known (the caller's stream did not start with the preface)",
        encodeError("", { code: "protocol_error", message: "the stream does not start with the Funker preface", name: "FunkerError" }, false, true),
      ),
      frameVector(
        "error-unsupported-version",
        "a v1 handler's reply to a caller that sent a preface with version 2",
        encodeError("", {
          code: "protocol_error",
          message: "unsupported protocol version 2; this peer speaks version 1",
          name: "FunkerError",
          data: { supportedVersions: [1] },
        }, false, true),
      ),
      frameVector(
        "error-busy",
        "a reuse-mode handler that is already serving its limit of calls: the call was not delivered",
        encodeError("call-2", { code: "unavailable", message: "the replica is busy", name: "FunkerError" }, false, true),
      ),
      frameVector(
        "error-misrouted",
        "a replica that serves another function than the call names",
        encodeError("call-3", { code: "not_found", message: 'this replica serves "add", not "multiply"', name: "FunkerError" }, false, true),
      ),
      frameVector(
        "error-going-away",
        "a reuse-mode handler closing a kept connection that is idle: whatever call the caller just sent was not run",
        encodeError("", { code: "unavailable", message: "the replica closed this idle connection", name: "FunkerError" }, false, true),
      ),
      frameVector("heartbeat", "the handler is alive and still running call-1", validHeartbeat),
      frameVector("cancel", "the caller gave up on call-1", encodeCancel("call-1")),
      frameVector("cancel-with-reason", "the caller gave up on call-1 and says why", encodeCancel("call-1", "the user closed the page")),
      frameVector("extension-0x80", "an extension frame a v1 receiver does not know: it must skip it", rawFrame(0x80, '{"id":"call-1","note":"skip me"}', Uint8Array.of(0xde, 0xad, 0xbe, 0xef)), true),
    ],
    exchanges: [
      {
        name: "add",
        description: "a framed call of add({x: 1, y: 2}) answered with 3",
        callerToHandler: toHex(concat(PREFACE, addCall)),
        handlerToCaller: toHex(addResult),
      },
      {
        name: "add-with-heartbeat-and-extension",
        description: "the same call, answered after a heartbeat and an extension frame the caller skips",
        callerToHandler: toHex(concat(PREFACE, addCall)),
        handlerToCaller: toHex(concat(validHeartbeat, rawFrame(0x80, '{"id":"call-1"}'), addResult)),
      },
    ],
    legacy: [
      {
        name: "request",
        description: "a 2017 caller's arguments; the caller then half-closes",
        direction: "caller-to-handler",
        hex: toHex(encodeLegacyRequest({ x: 1, y: 2 })),
        text: '{"x":1,"y":2}',
        decoded: { x: 1, y: 2 },
      },
      legacyReplyVector("reply", "the function's return value; the handler then closes", encodeLegacyReply(3)),
      legacyReplyVector("reply-undefined", "a function that returned undefined replies null", encodeLegacyReply(undefined)),
      legacyReplyVector(
        "reply-error",
        "Funker's legacy error object: an object whose only key is funkerError, holding a known code",
        encodeLegacyError({ code: "handler_error", message: "x must be a number", name: "TypeError", data: { field: "x" } }),
      ),
      legacyReplyVector(
        "reply-object-with-funkerError-key",
        "a user value that merely contains a funkerError key among others: a value, not an error",
        encodeLegacyReply({ funkerError: { code: "handler_error", message: "not an error" }, other: 1 }),
      ),
      legacyReplyVector("reply-empty", "what a 2017 function sends when it throws or crashes: nothing, then close", new Uint8Array(0)),
    ],
    legacyNegative: [
      { name: "reply-not-json", description: "a reply that is not a JSON text", hex: toHex(encodeUtf8("Traceback (most recent call last)")), error: "protocol_error" },
      { name: "reply-invalid-utf8", description: "a reply with a byte that is not UTF-8", hex: toHex(Uint8Array.of(0x22, 0xc3, 0x28, 0x22)), error: "protocol_error" },
      { name: "reply-proto-key", description: "a reply with a __proto__ key", hex: toHex(encodeUtf8('{"__proto__":{"polluted":true}}')), error: "protocol_error" },
    ],
    negative: [
      negativeVector("bad-preface", "NUL then FUNKY: not the preface", encodeUtf8("\u0000FUNKY!\u0001"), true),
      negativeVector("unsupported-version", "the preface of version 2", Uint8Array.of(...PREFACE.subarray(0, 7), 2), true),
      negativeVector("truncated-frame", "a result frame whose last byte never came", addResult.subarray(0, addResult.length - 1), false),
      negativeVector("oversized-length-claim", "a frame claiming a 4 GiB payload: refused after 5 bytes, nothing buffered", Uint8Array.of(0x02, 0xff, 0xff, 0xff, 0xff), false),
      negativeVector(
        "body-over-limit",
        "a result whose body would be 8 MiB + 1 byte, one past the default limit: refused once the header length is known",
        Uint8Array.of(0x02, 0x00, 0x80, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00),
        false,
      ),
      negativeVector("payload-shorter-than-header-length-field", "a payload of 2 bytes cannot hold the 4-byte header length", Uint8Array.of(0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00), false),
      negativeVector("header-length-larger-than-payload", "a header length of 16 in a payload of 8 bytes", rawFrame(0x04, '{"id"', "", 16).subarray(0, 13), false),
      negativeVector("header-over-limit", "a header length of 64 KiB + 1", Uint8Array.of(0x04, 0x00, 0x01, 0x00, 0x05, 0x00, 0x01, 0x00, 0x01), false),
      negativeVector("non-object-header", "a heartbeat whose header is a JSON array", rawFrame(0x04, '["call-1"]'), false),
      negativeVector("header-not-json", "a heartbeat whose header is not JSON", rawFrame(0x04, "{id:call-1}"), false),
      negativeVector("invalid-utf8", "a heartbeat header with a byte that is not UTF-8", rawFrame(0x04, Uint8Array.of(...encodeUtf8('{"id":"'), 0xff, ...encodeUtf8('"}'))), false),
      negativeVector("proto-key", "a header with a __proto__ key", rawFrame(0x04, '{"id":"call-1","__proto__":{"polluted":true}}'), false),
      negativeVector("constructor-prototype-key", "call metadata with a constructor.prototype key", concat(PREFACE, rawFrame(0x01, `{"id":"call-1","function":"add","deadline":${DEADLINE},"metadata":{"constructor":{"prototype":{"polluted":"yes"}}}}`, "{}")), true),
      negativeVector("unknown-critical-type-0x06", "type 0x06 is below 0x80, so a receiver that does not know it must fail", rawFrame(0x06, '{"id":"call-1"}'), false),
      negativeVector("missing-id", "a call without an id", concat(PREFACE, rawFrame(0x01, `{"function":"add","deadline":${DEADLINE}}`, '{"x":1,"y":2}')), true),
      negativeVector("empty-id", "a heartbeat with an empty id (only error frames may have one)", rawFrame(0x04, '{"id":""}'), false),
      negativeVector("call-missing-function", "a call without a function name", concat(PREFACE, rawFrame(0x01, `{"id":"call-1","deadline":${DEADLINE}}`, "{}")), true),
      negativeVector("call-bad-deadline", "a call whose deadline is an ISO date, not epoch milliseconds", concat(PREFACE, rawFrame(0x01, '{"id":"call-1","function":"add","deadline":"2026-01-01T00:00:00Z"}', "{}")), true),
      negativeVector("error-body-not-object", "an error frame whose body is a string", rawFrame(0x03, '{"id":"call-1"}', '"boom"'), false),
      negativeVector("legacy-json-to-framed-handler-side", "JSON bytes fed to a decoder that expects the preface", encodeUtf8('{"x":1}'), true),
    ],
  };
}

type Vectors = ReturnType<typeof buildVectors>;

function readVectors(): Vectors {
  return JSON.parse(readFileSync(vectorsUrl, "utf8")) as Vectors;
}

const generatedText = `${JSON.stringify(buildVectors(), null, 2)}\n`;
if (regenerate) writeFileSync(vectorsUrl, generatedText);

describe("golden vectors", () => {
  it("vectors.json is exactly what the encoders produce (regenerate with scripts/generate-vectors.mjs)", () => {
    expect(readFileSync(vectorsUrl, "utf8")).toBe(generatedText);
  });

  const vectors = readVectors();

  it("the preface vector is the PREFACE constant", () => {
    expect(fromHex(vectors.preface.hex)).toEqual(PREFACE);
  });

  it.each(vectors.frames.map((vector) => [vector.name, vector] as const))("frame %s decodes to its meaning, whole and byte by byte", (_name, vector) => {
    const bytes = fromHex(vector.hex);
    const whole = new FrameDecoder().push(bytes).map(meaning);
    const decoder = new FrameDecoder();
    const trickled: Record<string, unknown>[] = [];
    for (let index = 0; index < bytes.length; index += 1) trickled.push(...decoder.push(bytes.slice(index, index + 1)).map(meaning));
    decoder.end();
    expect(trickled).toEqual(whole);
    if (vector.skip === true) {
      expect(whole).toEqual([]);
    } else {
      expect(whole).toEqual([vector.decoded]);
    }
    expect(bytes.length).toBe(5 + vector.payloadLength);
  });

  it("every frame type is covered", () => {
    expect(new Set(vectors.frames.map((vector) => vector.typeName))).toEqual(new Set(["call", "result", "error", "heartbeat", "cancel", "extension"]));
  });

  it.each(vectors.exchanges.map((exchange) => [exchange.name, exchange] as const))("exchange %s decodes on both sides", (_name, exchange) => {
    const handlerSide = new FrameDecoder({ expectPreface: true }).push(fromHex(exchange.callerToHandler));
    expect(handlerSide.map(meaning)).toEqual([{ type: "call", id: "call-1", function: "add", deadline: DEADLINE, args: { x: 1, y: 2 } }]);
    const callerSide = new FrameDecoder().push(fromHex(exchange.handlerToCaller)).map(meaning);
    expect(callerSide.at(-1)).toEqual({ type: "result", id: "call-1", keepAlive: false, value: 3 });
  });

  it.each(vectors.legacy.map((vector) => [vector.name, vector] as const))("legacy %s decodes to its meaning", (_name, vector) => {
    const bytes = fromHex(vector.hex);
    expect(Buffer.from(bytes).toString("utf8")).toBe(vector.text);
    if (vector.direction === "caller-to-handler") {
      expect(decodeJson(bytes)).toEqual(vector.decoded);
      return;
    }
    const reply = decodeLegacyReply(bytes);
    expect(reply.ok ? { ok: true, value: reply.value } : { ok: false, error: reply.error.toWire() }).toEqual(vector.decoded);
  });

  it.each(vectors.legacyNegative.map((vector) => [vector.name, vector] as const))("legacy negative %s fails with its code", (_name, vector) => {
    expect(() => decodeLegacyReply(fromHex(vector.hex))).toThrow(expect.objectContaining({ code: vector.error }));
  });

  it.each(vectors.negative.map((vector) => [vector.name, vector] as const))("negative %s fails with its code, whole and byte by byte", (_name, vector) => {
    const bytes = fromHex(vector.hex);
    const decoder = new FrameDecoder({ expectPreface: vector.expectPreface });
    const failure = (() => {
      try {
        decoder.push(bytes);
        decoder.end();
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(FunkerError);
    expect((failure as FunkerError).code).toBe(vector.error);
    expect(failurePoint(bytes, vector.expectPreface)).toEqual({ code: vector.error, failsAfter: vector.failsAfter });
  });

  it("the oversized length claim fails after its 5 bytes, with nothing buffered for it", () => {
    const vector = vectors.negative.find((candidate) => candidate.name === "oversized-length-claim");
    expect(vector?.failsAfter).toBe(5);
  });
});
