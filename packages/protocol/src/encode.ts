import { FunkerError } from "./errors.js";
import type { WireError } from "./errors.js";
import {
  CALL_HAS_AUTH,
  CALL_HAS_HEARTBEAT,
  CALL_HAS_METADATA,
  CALL_HAS_TRACEPARENT,
  CALL_HAS_TRACESTATE,
  ERROR_REFUSED,
  FRAME_PREFIX_BYTES,
  FrameType,
  HEADER_LENGTH_BYTES,
  HELLO_AUTH_REQUIRED,
  PROTOCOL_VERSION,
  REPLY_KEEP_ALIVE,
  writeUint32,
} from "./frames.js";
import type { CallAuth, CallHeader, ProtocolVersion } from "./frames.js";
import { checkCallHeader, headerError } from "./header-rules.js";
import { commitBytes, encodeJson, encodeUtf8, refusePrototypeKeysInText, reserveBytes, writeUtf8 } from "./json.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, MAC_BYTES, MAX_CANCEL_REASON_BYTES, MAX_HEADER_BYTES } from "./limits.js";
import { encodeErrorBody } from "./wire-error.js";

/** Which version's frames to write: `PROTOCOL_VERSION` (2) unless told, or 1 for a version 1 peer. */
export interface VersionOption {
  version?: ProtocolVersion;
}

/**
 * Encodes a call frame. A header that a decoder would refuse, and arguments
 * that JSON cannot carry, are a `bad_arguments` error (the call was not
 * sent), so a caller learns of its mistake before the call leaves instead of
 * from the handler's `protocol_error` after.
 */
export function encodeCall(header: CallHeader, args: unknown, options: VersionOption & { maxPayloadBytes?: number } = {}): Uint8Array {
  const body = encodeJson(args, "arguments", options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES);
  return encodeCallBody(header, body, options.version ?? PROTOCOL_VERSION);
}

/**
 * A call frame for arguments already encoded as JSON (and checked against
 * the payload limit): a caller encodes the arguments once and the header
 * for each attempt, in the version the replica at hand speaks.
 */
export function encodeCallBody(header: CallHeader, body: Uint8Array, version: ProtocolVersion): Uint8Array {
  checkCallHeader(header, version);
  return writeCallFrame(header, body, version);
}

/**
 * `encodeCallBody` for a header already checked with `checkCallHeader` for
 * this version: a caller checks a call once and frames it for each attempt.
 */
export function writeCallFrame(header: CallHeader, body: Uint8Array, version: ProtocolVersion): Uint8Array {
  if (version === 1) return frameV1(FrameType.call, callHeaderText(header), body);
  return callFrameV2(header, body);
}

/**
 * The version 1 call header's JSON text. Every field was checked to be plain
 * JSON, so plain `JSON.stringify` writes it faithfully. Metadata may hold
 * keys the decoder refuses (`__proto__`), so a header with metadata is
 * checked as the decoder will read it.
 */
function callHeaderText(header: CallHeader): string {
  const text = JSON.stringify(header);
  if (header.metadata !== undefined) refusePrototypeKeysInText(text, "bad_arguments", "frame header");
  return text;
}

/** Encodes a result frame for an already encoded JSON body. */
export function encodeResultBody(id: string, body: Uint8Array, options: VersionOption & { keepAlive?: boolean } = {}): Uint8Array {
  const keepAlive = options.keepAlive === true;
  if (options.version === 1) return frameV1(FrameType.result, JSON.stringify(keepAlive ? { id, keepAlive: true } : { id }), body);
  return replyFrameV2(FrameType.result, keepAlive ? REPLY_KEEP_ALIVE : 0, id, body);
}

/** Encodes a result frame. A result JSON cannot carry is a `bad_result` error (see `encodeJson`). */
export function encodeResult(id: string, value: unknown, options: VersionOption & { keepAlive?: boolean } = {}): Uint8Array {
  return encodeResultBody(id, encodeJson(value, "result"), options);
}

/**
 * Encodes an error frame. `refused` says the handler did not start the
 * function (a busy answer, a misrouted call, arguments refused before the
 * function ran, a connection closed as idle): the caller may deliver the
 * call elsewhere even when it is not idempotent.
 */
export function encodeError(id: string, error: WireError, options: VersionOption & { keepAlive?: boolean; refused?: boolean } = {}): Uint8Array {
  const body = encodeErrorBody(error, (wire) => wire);
  if (options.version === 1) {
    const header: { id: string; keepAlive?: true; refused?: true } = { id };
    if (options.keepAlive === true) header.keepAlive = true;
    if (options.refused === true) header.refused = true;
    return frameV1(FrameType.error, JSON.stringify(header), body);
  }
  const flags = (options.keepAlive === true ? REPLY_KEEP_ALIVE : 0) | (options.refused === true ? ERROR_REFUSED : 0);
  return replyFrameV2(FrameType.error, flags, id, body);
}

export function encodeHeartbeat(id: string, options: VersionOption = {}): Uint8Array {
  if (options.version === 1) return frameV1(FrameType.heartbeat, JSON.stringify({ id }));
  return replyFrameV2(FrameType.heartbeat, 0, id, undefined);
}

export function encodeCancel(id: string, reason?: string, options: VersionOption = {}): Uint8Array {
  if (options.version === 1) return frameV1(FrameType.cancel, JSON.stringify(reason === undefined ? { id } : { id, reason }));
  let reasonBytes = reason === undefined ? undefined : encodeUtf8(reason);
  // A reason is for logs: a long one is cut at a character boundary rather than refused.
  if (reasonBytes !== undefined && reasonBytes.length > MAX_CANCEL_REASON_BYTES) reasonBytes = encodeUtf8(cutToBytes(reason as string, MAX_CANCEL_REASON_BYTES));
  return replyFrameV2(FrameType.cancel, 0, id, reasonBytes);
}

/**
 * Version 2: the HELLO a handler writes as soon as it has read a caller's
 * preface, before any call: it proves to the caller that a Funker handler
 * took the connection, in the caller's version, and says whether it
 * requires signed calls and which function it serves.
 */
export function encodeHello(options: { authRequired?: boolean; functionName?: string | undefined } = {}): Uint8Array {
  const name = options.functionName === undefined ? new Uint8Array(0) : encodeUtf8(options.functionName);
  if (name.length > 255) throw headerError("bad_arguments", "a function name in a HELLO is at most 255 bytes");
  const bytes = reserveBytes(FRAME_PREFIX_BYTES + 3 + name.length);
  const frame = commitBytes(bytes, FRAME_PREFIX_BYTES + 3 + name.length);
  frame[0] = FrameType.hello;
  writeUint32(frame, 1, 3 + name.length);
  frame[5] = PROTOCOL_VERSION;
  frame[6] = options.authRequired === true ? HELLO_AUTH_REQUIRED : 0;
  frame[7] = name.length;
  frame.set(name, 8);
  return frame;
}

/**
 * Builds a version 1 frame in one allocation: the header is encoded straight
 * into it. `headerText` is the header's JSON text.
 */
function frameV1(type: number, headerText: string, body?: Uint8Array): Uint8Array {
  const bodyLength = body?.length ?? 0;
  const headerStart = FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES;
  // UTF-8 takes at most three bytes per UTF-16 code unit.
  const reserved = reserveBytes(headerStart + headerText.length * 3 + bodyLength);
  const headerLength = writeUtf8(headerText, reserved, headerStart);
  if (headerLength > MAX_HEADER_BYTES) {
    throw new FunkerError("payload_too_large", `the frame header is ${headerLength} bytes; the limit is ${MAX_HEADER_BYTES}`, {
      mayHaveRun: false,
    });
  }
  const payloadLength = HEADER_LENGTH_BYTES + headerLength + bodyLength;
  const bytes = commitBytes(reserved, FRAME_PREFIX_BYTES + payloadLength);
  bytes[0] = type;
  writeUint32(bytes, 1, payloadLength);
  writeUint32(bytes, FRAME_PREFIX_BYTES, headerLength);
  if (body !== undefined) bytes.set(body, headerStart + headerLength);
  return bytes;
}

/**
 * A version 2 RESULT, ERROR, HEARTBEAT or CANCEL: flags, the call id as a
 * length-prefixed string, then the body. An id is ASCII in practice (the
 * client makes it), so it is written byte by byte, without an encoder.
 */
function replyFrameV2(type: number, flags: number, id: string, body: Uint8Array | undefined): Uint8Array {
  const idLength = id.length;
  const bodyLength = body?.length ?? 0;
  const reserved = reserveBytes(FRAME_PREFIX_BYTES + 2 + idLength * 3 + bodyLength);
  const idBytes = writeShortString(id, reserved, FRAME_PREFIX_BYTES + 1, "call id");
  const payloadLength = 2 + idBytes + bodyLength;
  const bytes = commitBytes(reserved, FRAME_PREFIX_BYTES + payloadLength);
  bytes[0] = type;
  writeUint32(bytes, 1, payloadLength);
  bytes[FRAME_PREFIX_BYTES] = flags;
  if (body !== undefined) bytes.set(body, FRAME_PREFIX_BYTES + 2 + idBytes);
  return bytes;
}

/** Scratch space for big-endian doubles, shared: everything here is synchronous. */
const doubleScratch = new DataView(new ArrayBuffer(8));

function writeDouble(bytes: Uint8Array, offset: number, value: number): void {
  doubleScratch.setFloat64(0, value);
  for (let index = 0; index < 8; index += 1) bytes[offset + index] = doubleScratch.getUint8(index);
}

function writeUint16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

/**
 * A version 2 CALL: flags, id and function as length-prefixed strings, the
 * deadline as a double, then the optional fields the flags announce, then
 * the arguments (PROTOCOL.md section 5.4).
 */
function callFrameV2(header: CallHeader, body: Uint8Array): Uint8Array {
  const { id, traceparent, tracestate, metadata, auth } = header;
  const metadataBytes = metadata === undefined ? undefined : encodeMetadata(metadata);
  const keyIdLength = auth === undefined ? 0 : auth.keyId.length;
  // Room for every string at three bytes per UTF-16 unit; committed to what was written.
  const most =
    FRAME_PREFIX_BYTES +
    1 +
    (1 + id.length * 3) +
    (1 + header.function.length * 3) +
    8 +
    (header.heartbeatIntervalMs === undefined ? 0 : 4) +
    (traceparent === undefined ? 0 : 2 + traceparent.length * 3) +
    (tracestate === undefined ? 0 : 2 + tracestate.length * 3) +
    (metadataBytes === undefined ? 0 : 4 + metadataBytes.length) +
    (auth === undefined ? 0 : 1 + keyIdLength * 3 + 8 + MAC_BYTES) +
    body.length;
  const bytes = reserveBytes(most);
  let flags = 0;
  let offset = FRAME_PREFIX_BYTES + 1;
  offset += 1 + writeShortString(id, bytes, offset, "call id");
  offset += 1 + writeShortString(header.function, bytes, offset, "function name");
  writeDouble(bytes, offset, header.deadline);
  offset += 8;
  if (header.heartbeatIntervalMs !== undefined) {
    flags |= CALL_HAS_HEARTBEAT;
    writeUint32(bytes, offset, header.heartbeatIntervalMs);
    offset += 4;
  }
  if (traceparent !== undefined) {
    flags |= CALL_HAS_TRACEPARENT;
    offset += 2 + writeMediumString(traceparent, bytes, offset);
  }
  if (tracestate !== undefined) {
    flags |= CALL_HAS_TRACESTATE;
    offset += 2 + writeMediumString(tracestate, bytes, offset);
  }
  if (metadataBytes !== undefined) {
    flags |= CALL_HAS_METADATA;
    writeUint32(bytes, offset, metadataBytes.length);
    bytes.set(metadataBytes, offset + 4);
    offset += 4 + metadataBytes.length;
  }
  if (auth !== undefined) {
    flags |= CALL_HAS_AUTH;
    offset += writeAuth(auth, bytes, offset);
  }
  if (offset - FRAME_PREFIX_BYTES > MAX_HEADER_BYTES) {
    throw new FunkerError("payload_too_large", `the call header is ${offset - FRAME_PREFIX_BYTES} bytes; the limit is ${MAX_HEADER_BYTES}`, { mayHaveRun: false });
  }
  bytes.set(body, offset);
  const frame = commitBytes(bytes, offset + body.length);
  frame[0] = FrameType.call;
  writeUint32(frame, 1, offset + body.length - FRAME_PREFIX_BYTES);
  frame[FRAME_PREFIX_BYTES] = flags;
  return frame;
}

function writeAuth(auth: CallAuth, bytes: Uint8Array, offset: number): number {
  const keyIdBytes = writeShortString(auth.keyId, bytes, offset, "key id");
  let at = offset + 1 + keyIdBytes;
  writeDouble(bytes, at, auth.timestamp);
  at += 8;
  bytes.set(auth.mac, at);
  return 1 + keyIdBytes + 8 + MAC_BYTES;
}

/** Metadata travels as a JSON object, as in version 1: it is rare, and its keys are the caller's. */
function encodeMetadata(metadata: Record<string, string>): Uint8Array {
  const text = JSON.stringify(metadata);
  refusePrototypeKeysInText(text, "bad_arguments", "frame header");
  return encodeUtf8(text);
}

/** Writes a string with a one-byte length before it, at `offset`; returns its byte length. */
function writeShortString(text: string, bytes: Uint8Array, offset: number, what: string): number {
  const length = writeText(text, bytes, offset + 1);
  if (length > 255) throw headerError("bad_arguments", `the ${what} is ${length} bytes of UTF-8; version 2 carries at most 255`);
  bytes[offset] = length;
  return length;
}

/** Writes a string with a two-byte length before it; returns its byte length. */
function writeMediumString(text: string, bytes: Uint8Array, offset: number): number {
  const length = writeText(text, bytes, offset + 2);
  writeUint16(bytes, offset, length);
  return length;
}

/** UTF-8, with a byte loop for ASCII: ids and names are short ASCII, and an encoder call costs more than the loop. */
function writeText(text: string, bytes: Uint8Array, offset: number): number {
  const length = text.length;
  for (let index = 0; index < length; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 0x80) return writeUtf8(text, bytes, offset);
    bytes[offset + index] = code;
  }
  return length;
}

/** The longest prefix of `text` whose UTF-8 fits in `limit` bytes. */
function cutToBytes(text: string, limit: number): string {
  let end = Math.min(text.length, limit);
  while (end > 0 && encodeUtf8(text.slice(0, end)).length > limit) end -= 1;
  return text.slice(0, end);
}
