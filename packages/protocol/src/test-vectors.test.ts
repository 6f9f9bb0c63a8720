import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  FrameDecoder,
  FunkerError,
  PREFACE,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  decodeJson,
  encodeHello,
  prefaceFor,
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
import { createHash, createHmac } from "node:crypto";
import { callSigningInput, encodeUtf8, writeCallFrame } from "@funker/protocol/internal";
import type { CallHeader, Frame, ProtocolVersion, WireError } from "@funker/protocol";

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
      const { body, metadata, auth, ...rest } = frame;
      const call: Record<string, unknown> = { ...rest };
      if (metadata !== undefined) call["metadata"] = { ...metadata };
      if (auth !== undefined) call["auth"] = { keyId: auth.keyId, timestamp: auth.timestamp, macHex: toHex(auth.mac) };
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
    case "hello":
      return { ...frame };
    default: {
      const unreachable: never = frame;
      return unreachable;
    }
  }
}

const typeNames: Record<number, string> = { 1: "call", 2: "result", 3: "error", 4: "heartbeat", 5: "cancel", 6: "hello" };

interface FrameVector {
  name: string;
  description: string;
  hex: string;
  type: number;
  typeName: string;
  payloadLength: number;
  /** Version 1: the JSON header's length and content. */
  headerLength?: number;
  header?: Record<string, unknown>;
  /** The body's JSON value; absent when the body is empty. */
  body?: unknown;
  /** Raw body bytes, for extension frames whose body is not JSON. */
  bodyHex?: string;
  /** True when a receiver must skip the frame. */
  skip?: boolean;
  /** The frame as a receiver of its version reports it (absent when skipped). */
  decoded?: Record<string, unknown>;
}

function frameVector(version: ProtocolVersion, name: string, description: string, bytes: Uint8Array, skip = false): FrameVector {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(0);
  const vector: FrameVector = { name, description, hex: toHex(bytes), type, typeName: typeNames[type] ?? "extension", payloadLength: view.getUint32(1) };
  if (version === 1) {
    const headerLength = view.getUint32(5);
    vector.headerLength = headerLength;
    vector.header = decodeJson(bytes.subarray(9, 9 + headerLength)) as Record<string, unknown>;
    const bodyBytes = bytes.subarray(9 + headerLength);
    if (skip) vector.bodyHex = toHex(bodyBytes);
    else if (bodyBytes.length > 0) vector.body = decodeJson(bodyBytes);
  }
  if (skip) {
    vector.skip = true;
    return vector;
  }
  const [decoded, ...extra] = new FrameDecoder({ version, expectHello: type === 6 }).push(bytes);
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
};

/** A version 2 call's signature: the MAC is made-up bytes here (PROTOCOL.md 6.8 says how a real one is computed). */
const exampleAuth = { keyId: "k1", timestamp: DEADLINE - 10_000, mac: Uint8Array.from({ length: 32 }, (_, index) => index) };

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
  /** The caller side's version (when `expectPreface` is false). */
  version: ProtocolVersion;
  hex: string;
  /** The error a v1 receiver must report. */
  error: "protocol_error" | "payload_too_large";
  /**
   * How many bytes the reference decoder needs before it fails when fed one byte at a time,
   * or "end" when it fails only once the stream ends.
   */
  failsAfter: number | "end";
}

function failurePoint(bytes: Uint8Array, expectPreface: boolean, version: ProtocolVersion): { code: string; failsAfter: number | "end" } {
  const decoder = new FrameDecoder({ expectPreface, version });
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

function negativeVector(version: ProtocolVersion, name: string, description: string, bytes: Uint8Array, expectPreface: boolean): NegativeVector {
  const { code, failsAfter } = failurePoint(bytes, expectPreface, version);
  if (code !== "protocol_error" && code !== "payload_too_large") throw new Error(`unexpected code ${code}`);
  return { name, description, expectPreface, version, hex: toHex(bytes), error: code, failsAfter };
}

/** A version 2 frame built by hand: for extensions and for malformed frames the encoders refuse to make. */
function rawFrameV2(type: number, payload: Uint8Array | string): Uint8Array {
  const payloadBytes = typeof payload === "string" ? encodeUtf8(payload) : payload;
  const bytes = new Uint8Array(5 + payloadBytes.length);
  new DataView(bytes.buffer).setUint8(0, type);
  new DataView(bytes.buffer).setUint32(1, payloadBytes.length);
  bytes.set(payloadBytes, 5);
  return bytes;
}

function buildVersion1() {
  const v1 = { version: 1 } as const;
  const callId = fullCallHeader.id;
  const addCall = encodeCall({ id: "call-1", function: "add", deadline: DEADLINE }, { x: 1, y: 2 }, v1);
  const addResult = encodeResult("call-1", 3, v1);
  const validHeartbeat = encodeHeartbeat("call-1", v1);
  const preface = prefaceFor(1);
  return {
    preface: { hex: toHex(preface), text: "\u0000FUNKER\u0001", version: 1 },
    frames: [
      frameVector(1, "call-full", "a call with every optional header field", encodeCall(fullCallHeader, { x: 1, y: 2 }, v1)),
      frameVector(1, "call-minimal", "a call with only the required header fields", addCall),
      frameVector(1, "call-no-arguments", "a call whose arguments are undefined: the body is null", encodeCall({ id: "call-2", function: "tick", deadline: DEADLINE }, undefined, v1)),
      frameVector(1, "result", "the result of call-1; the handler closes after it", addResult),
      frameVector(1, "result-keep-alive", "a result after which the handler keeps the connection for another call", encodeResult("call-1", 3, { ...v1, keepAlive: true })),
      frameVector(1, "result-undefined", "a function that returned undefined: the result is null", encodeResult("call-1", undefined, v1)),
      frameVector(1, "error-with-causes", "a handler error with data and a cause chain", encodeError(callId, errorWithCauses, v1)),
      frameVector(
        1,
        "error-empty-id",
        "an error sent before any call id was known (the caller's stream did not start with the preface)",
        encodeError("", { code: "protocol_error", message: "the stream does not start with the Funker preface", name: "FunkerError" }, { ...v1, refused: true }),
      ),
      frameVector(
        1,
        "error-unsupported-version",
        "a handler's reply to a caller that sent a preface with a version it does not speak (here 3): always in version 1, listing the versions it speaks",
        encodeError(
          "",
          { code: "protocol_error", message: "unsupported protocol version 3; this peer speaks versions 1 and 2", name: "FunkerError", data: { supportedVersions: [...SUPPORTED_VERSIONS] } },
          { ...v1, refused: true },
        ),
      ),
      frameVector(
        1,
        "error-busy",
        "a reuse-mode handler that is already serving its limit of calls: the call was not delivered",
        encodeError("call-2", { code: "unavailable", message: "the replica is busy", name: "FunkerError" }, { ...v1, refused: true }),
      ),
      frameVector(
        1,
        "error-misrouted",
        "a replica that serves another function than the call names",
        encodeError("call-3", { code: "not_found", message: 'this replica serves "add", not "multiply"', name: "FunkerError" }, { ...v1, refused: true }),
      ),
      frameVector(
        1,
        "error-going-away",
        "a reuse-mode handler closing a kept connection that is idle: whatever call the caller just sent was not run",
        encodeError("", { code: "unavailable", message: "the replica closed this idle connection", name: "FunkerError" }, { ...v1, refused: true }),
      ),
      frameVector(1, "heartbeat", "the handler is alive and still running call-1", validHeartbeat),
      frameVector(1, "cancel", "the caller gave up on call-1", encodeCancel("call-1", undefined, v1)),
      frameVector(1, "cancel-with-reason", "the caller gave up on call-1 and says why", encodeCancel("call-1", "the user closed the page", v1)),
      frameVector(1, "extension-0x80", "an extension frame a receiver does not know: it must skip it", rawFrame(0x80, '{"id":"call-1","note":"skip me"}', Uint8Array.of(0xde, 0xad, 0xbe, 0xef)), true),
    ],
    exchanges: [
      {
        name: "add",
        description: "a framed call of add({x: 1, y: 2}) answered with 3",
        callerToHandler: toHex(concat(preface, addCall)),
        handlerToCaller: toHex(addResult),
      },
      {
        name: "add-with-heartbeat-and-extension",
        description: "the same call, answered after a heartbeat and an extension frame the caller skips",
        callerToHandler: toHex(concat(preface, addCall)),
        handlerToCaller: toHex(concat(validHeartbeat, rawFrame(0x80, '{"id":"call-1"}'), addResult)),
      },
    ],
    negative: [
      negativeVector(1, "bad-preface", "NUL then FUNKY: not the preface", encodeUtf8("\u0000FUNKY!\u0001"), true),
      negativeVector(1, "unsupported-version", "the preface of version 3", Uint8Array.of(...preface.subarray(0, 7), 3), true),
      negativeVector(1, "truncated-frame", "a result frame whose last byte never came", addResult.subarray(0, addResult.length - 1), false),
      negativeVector(1, "oversized-length-claim", "a frame claiming a 4 GiB payload: refused after 5 bytes, nothing buffered", Uint8Array.of(0x02, 0xff, 0xff, 0xff, 0xff), false),
      negativeVector(
        1,
        "body-over-limit",
        "a result whose body would be 8 MiB + 1 byte, one past the default limit: refused once the header length is known",
        Uint8Array.of(0x02, 0x00, 0x80, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00),
        false,
      ),
      negativeVector(1, "payload-shorter-than-header-length-field", "a payload of 2 bytes cannot hold the 4-byte header length", Uint8Array.of(0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00), false),
      negativeVector(1, "header-length-larger-than-payload", "a header length of 16 in a payload of 8 bytes", rawFrame(0x04, '{"id"', "", 16).subarray(0, 13), false),
      negativeVector(1, "header-over-limit", "a header length of 64 KiB + 1", Uint8Array.of(0x04, 0x00, 0x01, 0x00, 0x05, 0x00, 0x01, 0x00, 0x01), false),
      negativeVector(1, "non-object-header", "a heartbeat whose header is a JSON array", rawFrame(0x04, '["call-1"]'), false),
      negativeVector(1, "header-not-json", "a heartbeat whose header is not JSON", rawFrame(0x04, "{id:call-1}"), false),
      negativeVector(1, "invalid-utf8", "a heartbeat header with a byte that is not UTF-8", rawFrame(0x04, Uint8Array.of(...encodeUtf8('{"id":"'), 0xff, ...encodeUtf8('"}'))), false),
      negativeVector(1, "proto-key", "a header with a __proto__ key", rawFrame(0x04, '{"id":"call-1","__proto__":{"polluted":true}}'), false),
      negativeVector(1, "constructor-prototype-key", "call metadata with a constructor.prototype key", concat(preface, rawFrame(0x01, `{"id":"call-1","function":"add","deadline":${DEADLINE},"metadata":{"constructor":{"prototype":{"polluted":"yes"}}}}`, "{}")), true),
      negativeVector(1, "unknown-critical-type-0x07", "type 0x07 is below 0x80, so a receiver that does not know it must fail", rawFrame(0x07, '{"id":"call-1"}'), false),
      negativeVector(1, "hello-in-version-1", "a HELLO (type 0x06) belongs to version 2: a version 1 stream must not carry one", rawFrame(0x06, '{"id":"call-1"}'), false),
      negativeVector(1, "missing-id", "a call without an id", concat(preface, rawFrame(0x01, `{"function":"add","deadline":${DEADLINE}}`, '{"x":1,"y":2}')), true),
      negativeVector(1, "empty-id", "a heartbeat with an empty id (only error frames may have one)", rawFrame(0x04, '{"id":""}'), false),
      negativeVector(1, "call-missing-function", "a call without a function name", concat(preface, rawFrame(0x01, `{"id":"call-1","deadline":${DEADLINE}}`, "{}")), true),
      negativeVector(1, "call-bad-deadline", "a call whose deadline is an ISO date, not epoch milliseconds", concat(preface, rawFrame(0x01, '{"id":"call-1","function":"add","deadline":"2026-01-01T00:00:00Z"}', "{}")), true),
      negativeVector(1, "error-body-not-object", "an error frame whose body is a string", rawFrame(0x03, '{"id":"call-1"}', '"boom"'), false),
      negativeVector(1, "legacy-json-to-framed-handler-side", "JSON bytes fed to a decoder that expects the preface", encodeUtf8('{"x":1}'), true),
    ],
  };
}

function buildVersion2() {
  const callId = fullCallHeader.id;
  const addCall = encodeCall({ id: "call-1", function: "add", deadline: DEADLINE }, { x: 1, y: 2 });
  const addResult = encodeResult("call-1", 3);
  const hello = encodeHello({ functionName: "add" });
  const validHeartbeat = encodeHeartbeat("call-1");
  return {
    preface: { hex: toHex(PREFACE), text: "\u0000FUNKER\u0002", version: 2 },
    frames: [
      frameVector(2, "hello", "the handler's first frame, sent as soon as it reads the preface: version 2, no signature required, serving add", hello),
      frameVector(2, "hello-auth-required", "a HELLO from a handler that refuses unsigned calls and was given no function name", encodeHello({ authRequired: true })),
      frameVector(2, "call-full", "a call with every optional field", encodeCall({ ...fullCallHeader, auth: exampleAuth }, { x: 1, y: 2 })),
      frameVector(2, "call-minimal", "a call with only the required fields", addCall),
      frameVector(2, "call-no-arguments", "a call whose arguments are undefined: the body is null", encodeCall({ id: "call-2", function: "tick", deadline: DEADLINE }, undefined)),
      frameVector(2, "result", "the result of call-1; the handler closes after it", addResult),
      frameVector(2, "result-keep-alive", "a result after which the handler keeps the connection for another call", encodeResult("call-1", 3, { keepAlive: true })),
      frameVector(2, "error-with-causes", "a handler error with data and a cause chain", encodeError(callId, errorWithCauses)),
      frameVector(2, "error-busy", "a reuse-mode handler at its limit: the call was not delivered", encodeError("call-2", { code: "unavailable", message: "the replica is busy", name: "FunkerError" }, { refused: true })),
      frameVector(
        2,
        "error-going-away",
        "a reuse-mode handler closing a kept connection that is idle",
        encodeError("", { code: "unavailable", message: "the replica closed this idle connection", name: "FunkerError" }, { refused: true }),
      ),
      frameVector(2, "heartbeat", "the handler is alive and still running call-1", validHeartbeat),
      frameVector(2, "cancel-with-reason", "the caller gave up on call-1 and says why", encodeCancel("call-1", "the user closed the page")),
      frameVector(2, "extension-0x80", "an extension frame a receiver does not know: it must skip it", rawFrameV2(0x80, Uint8Array.of(0xde, 0xad, 0xbe, 0xef)), true),
    ],
    exchanges: [
      {
        name: "add",
        description: "a framed call of add({x: 1, y: 2}) answered with 3: the handler's HELLO comes first",
        callerToHandler: toHex(concat(PREFACE, addCall)),
        handlerToCaller: toHex(concat(hello, addResult)),
      },
    ],
    signing: buildSigningVector(),
    negative: [
      negativeVector(2, "flags-unknown", "a result with a flag bit version 2 does not define", rawFrameV2(0x02, Uint8Array.of(0x80, 1, 0x61, 0x33)), false),
      negativeVector(2, "id-runs-past-payload", "a heartbeat whose id length claims more bytes than the payload holds", rawFrameV2(0x04, Uint8Array.of(0, 9, 0x61)), false),
      negativeVector(2, "empty-id", "a heartbeat with an empty id (only error frames may have one)", rawFrameV2(0x04, Uint8Array.of(0, 0)), false),
      negativeVector(2, "heartbeat-with-body", "a heartbeat carries nothing after its id", rawFrameV2(0x04, Uint8Array.of(0, 1, 0x61, 0x00)), false),
      negativeVector(2, "invalid-utf8-id", "an id that is not UTF-8", rawFrameV2(0x04, Uint8Array.of(0, 2, 0xc3, 0x28)), false),
      negativeVector(
        2,
        "call-metadata-proto-key",
        "call metadata with a __proto__ key",
        concat(PREFACE, rawFrameV2(0x01, concat(Uint8Array.of(0x08, 1, 0x63, 3), encodeUtf8("add"), new Uint8Array(8), Uint8Array.of(0, 0, 0, 30), encodeUtf8('{"__proto__":{"polluted":"x"}}'), encodeUtf8("{}")))),
        true,
      ),
      negativeVector(2, "call-truncated-header", "a call that ends inside its deadline", concat(PREFACE, rawFrameV2(0x01, Uint8Array.of(0, 1, 0x63, 3, 0x61, 0x64, 0x64, 0x41))), true),
      negativeVector(2, "oversized-length-claim", "a frame claiming a 4 GiB payload: refused after 5 bytes, nothing buffered", Uint8Array.of(0x02, 0xff, 0xff, 0xff, 0xff), false),
    ],
  };
}

/**
 * A signed call, step by step (PROTOCOL.md section 6.8): the key's id as
 * Funker's handler and client derive it, the arguments' digest, the bytes
 * the MAC covers, the MAC, and the CALL frame that carries it.
 */
function buildSigningVector() {
  const key = "an example key, never use it: 0123456789";
  const keyId = `k${createHash("sha256").update("funker key id\u0000").update(key).digest("hex").slice(0, 16)}`;
  const header = { id: "call-1", function: "add", deadline: DEADLINE };
  const timestamp = DEADLINE - 10_000;
  const body = encodeUtf8('{"x":1,"y":2}');
  const argumentsDigest = createHash("sha256").update(body).digest();
  const input = callSigningInput(header, { keyId, timestamp }, argumentsDigest);
  const mac = createHmac("sha256", key).update(input).digest();
  return {
    description: "add({x: 1, y: 2}) signed with the key below: a handler holding that key runs it until the deadline or the skew passes",
    key,
    keyId,
    header,
    timestamp,
    argumentsText: '{"x":1,"y":2}',
    argumentsDigestHex: toHex(argumentsDigest),
    signingInputHex: toHex(input),
    macHex: toHex(mac),
    callHex: toHex(writeCallFrame({ ...header, auth: { keyId, timestamp, mac } }, body, 2)),
  };
}

function buildVectors() {
  return {
    format: "funker-protocol-test-vectors",
    protocolVersion: PROTOCOL_VERSION,
    notes: [
      "Every hex string is the exact bytes on the wire. 'versions' holds one section per framed protocol version; 'legacy' is the 2017 format.",
      "Version 1 frame headers are JSON texts, compact, with keys in the order shown; a receiver MUST accept any valid JSON (whitespace, key order), so compare decoded meaning when your encoder orders keys differently. Version 2 headers are binary and exact.",
      "frames: one frame each, without the preface. 'decoded' is what a receiver of that version reports: absent optional fields are omitted, flags default to false, call and result bodies are shown decoded as 'args' and 'value', a signature's MAC as 'macHex'.",
      "negative: feed 'hex' to a receiver (after which it would see the end of the stream); it must fail with 'error'. 'failsAfter' is when the reference decoder fails when fed one byte at a time; a receiver SHOULD fail no later.",
    ],
    versions: { "1": buildVersion1(), "2": buildVersion2() },
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

  it("the preface vectors are the prefaces of each version", () => {
    expect(fromHex(vectors.versions["1"].preface.hex)).toEqual(prefaceFor(1));
    expect(fromHex(vectors.versions["2"].preface.hex)).toEqual(PREFACE);
  });

  for (const version of [1, 2] as const) {
    const section = vectors.versions[String(version) as "1" | "2"];
    const decoderFor = (vector: { type: number }) => new FrameDecoder({ version, expectHello: vector.type === 6 });

    it.each(section.frames.map((vector) => [vector.name, vector] as const))(`version ${version} frame %s decodes to its meaning, whole and byte by byte`, (_name, vector) => {
      const bytes = fromHex(vector.hex);
      const whole = decoderFor(vector).push(bytes).map(meaning);
      const decoder = decoderFor(vector);
      const trickled: Record<string, unknown>[] = [];
      for (let index = 0; index < bytes.length; index += 1) trickled.push(...decoder.push(bytes.slice(index, index + 1)).map(meaning));
      decoder.end();
      expect(trickled).toEqual(whole);
      if (vector.skip === true) {
        expect(whole).toEqual([]);
      } else {
        expect(JSON.parse(JSON.stringify(whole))).toEqual([vector.decoded]);
      }
      expect(bytes.length).toBe(5 + vector.payloadLength);
    });

    it.each(section.exchanges.map((exchange) => [exchange.name, exchange] as const))(`version ${version} exchange %s decodes on both sides`, (_name, exchange) => {
      const handlerSide = new FrameDecoder({ expectPreface: true }).push(fromHex(exchange.callerToHandler));
      expect(handlerSide.map(meaning)).toEqual([{ type: "call", id: "call-1", function: "add", deadline: DEADLINE, args: { x: 1, y: 2 } }]);
      const callerSide = new FrameDecoder({ version, expectHello: version === 2 }).push(fromHex(exchange.handlerToCaller)).map(meaning);
      expect(callerSide.at(-1)).toEqual({ type: "result", id: "call-1", keepAlive: false, value: 3 });
    });

    it.each(section.negative.map((vector) => [vector.name, vector] as const))(`version ${version} negative %s fails with its code, whole and byte by byte`, (_name, vector) => {
      const bytes = fromHex(vector.hex);
      const decoder = new FrameDecoder({ expectPreface: vector.expectPreface, version: vector.version });
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
      expect(failurePoint(bytes, vector.expectPreface, vector.version)).toEqual({ code: vector.error, failsAfter: vector.failsAfter });
    });
  }

  it("the signing vector's call decodes to its header and signature, and its MAC covers exactly the signing input", () => {
    const signing = vectors.versions["2"].signing;
    const [call] = new FrameDecoder({ version: 2, expectPreface: false }).push(fromHex(signing.callHex));
    expect(call).toMatchObject({ type: "call", ...signing.header, auth: { keyId: signing.keyId, timestamp: signing.timestamp } });
    expect(toHex((call as { auth: { mac: Uint8Array } }).auth.mac)).toBe(signing.macHex);
    expect(toHex(createHmac("sha256", signing.key).update(fromHex(signing.signingInputHex)).digest())).toBe(signing.macHex);
    // "FUNKER-CALL" NUL, then the id as a length-prefixed string.
    expect(signing.signingInputHex.startsWith(`${toHex(encodeUtf8("FUNKER-CALL\u0000"))}0663616c6c2d31`)).toBe(true);
  });

  it("every frame type is covered in each version", () => {
    expect(new Set(vectors.versions["1"].frames.map((vector) => vector.typeName))).toEqual(new Set(["call", "result", "error", "heartbeat", "cancel", "extension"]));
    expect(new Set(vectors.versions["2"].frames.map((vector) => vector.typeName))).toEqual(new Set(["hello", "call", "result", "error", "heartbeat", "cancel", "extension"]));
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

  it("an oversized length claim fails after its 5 bytes, with nothing buffered for it, in both versions", () => {
    for (const version of ["1", "2"] as const) {
      expect(vectors.versions[version].negative.find((candidate) => candidate.name === "oversized-length-claim")?.failsAfter).toBe(5);
    }
  });
});
