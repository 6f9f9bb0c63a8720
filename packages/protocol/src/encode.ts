import { FunkerError } from "./errors.js";
import type { WireError } from "./errors.js";
import { FRAME_PREFIX_BYTES, FrameType, HEADER_LENGTH_BYTES, writeUint32 } from "./frames.js";
import type { CallHeader } from "./frames.js";
import { checkCallHeader } from "./header-rules.js";
import { commitBytes, encodeJson, refusePrototypeKeysInText, reserveBytes, stringifyJson, writeUtf8 } from "./json.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_HEADER_BYTES, checkPayloadSize } from "./limits.js";
import { encodeErrorBody } from "./wire-error.js";

/**
 * Builds a frame in one allocation: the header is encoded straight into it.
 * `headerText` is the header's JSON text: plain `JSON.stringify` of fields
 * known to be plain JSON (see `callHeaderText` for the call header).
 */
function frame(type: number, headerText: string, body?: Uint8Array): Uint8Array {
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
 * Encodes a call frame. A header that a decoder would refuse, and arguments
 * that JSON cannot carry, are a `bad_arguments` error (the call was not
 * sent), so a caller learns of its mistake before the call leaves instead of
 * from the handler's `protocol_error` after.
 */
export function encodeCall(header: CallHeader, args: unknown, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES): Uint8Array {
  checkCallHeader(header);
  const body = encodeJson(args, "arguments");
  checkPayloadSize(body.length, maxPayloadBytes, "arguments");
  return frame(FrameType.call, callHeaderText(header), body);
}

/**
 * The call header's JSON text. Every field but `auth` was checked to be
 * plain JSON, so plain `JSON.stringify` writes it faithfully; `auth`, of any
 * shape, goes through `stringifyJson`, which refuses what JSON cannot carry.
 * Metadata and credentials may hold keys the decoder refuses (`__proto__`),
 * so a header with either is checked as the decoder will read it.
 */
function callHeaderText(header: CallHeader): string {
  if (header.metadata === undefined && header.auth === undefined) return JSON.stringify(header);
  const text = header.auth === undefined ? JSON.stringify(header) : stringifyJson(header, "frame header");
  refusePrototypeKeysInText(text, "bad_arguments", "frame header");
  return text;
}

/** Encodes a result frame for an already encoded JSON body. */
export function encodeResultBody(id: string, body: Uint8Array, keepAlive = false): Uint8Array {
  return frame(FrameType.result, JSON.stringify(keepAlive ? { id, keepAlive: true } : { id }), body);
}

/** Encodes a result frame. A result JSON cannot carry is a `bad_arguments` error (see `encodeJson`). */
export function encodeResult(id: string, value: unknown, keepAlive = false): Uint8Array {
  return encodeResultBody(id, encodeJson(value, "result"), keepAlive);
}

/**
 * Encodes an error frame. `refused` says the handler did not start the
 * function (a busy answer, a misrouted call, arguments refused before the
 * function ran, a connection closed as idle): the caller may deliver the
 * call elsewhere even when it is not idempotent.
 */
export function encodeError(id: string, error: WireError, keepAlive = false, refused = false): Uint8Array {
  const header: { id: string; keepAlive?: true; refused?: true } = { id };
  if (keepAlive) header.keepAlive = true;
  if (refused) header.refused = true;
  return frame(FrameType.error, JSON.stringify(header), encodeErrorBody(error, (wire) => wire));
}

export function encodeHeartbeat(id: string): Uint8Array {
  return frame(FrameType.heartbeat, JSON.stringify({ id }));
}

export function encodeCancel(id: string, reason?: string): Uint8Array {
  return frame(FrameType.cancel, JSON.stringify(reason === undefined ? { id } : { id, reason }));
}

