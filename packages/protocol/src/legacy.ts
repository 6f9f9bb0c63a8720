import { FunkerError, isErrorCode } from "./errors.js";
import type { WireError } from "./errors.js";
import { decodeJson, encodeJson } from "./json.js";
import { encodeErrorBody, readWireError } from "./wire-error.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, resolveMaxPayloadBytes } from "./limits.js";

/**
 * The 2017 wire format ("legacy"): the caller writes one JSON text and
 * half-closes; the function writes one JSON text and closes. There is no
 * framing, so the end of the stream is the end of the message.
 */

/** The key of the object a handler sends a legacy caller when a call fails. */
export const LEGACY_ERROR_KEY = "funkerError";

/**
 * Three bytes of JSON whitespace (tab, space, tab) with which a Funker
 * caller starts a legacy request, and a Funker handler its reply to such a
 * request (PROTOCOL.md section 4.1). JSON allows whitespace before a text,
 * so a 2017 function reads the request as it always did and replies without
 * the mark; a Funker handler's marked reply tells the caller the function
 * speaks the framed protocol too. No 2017 encoder writes leading whitespace.
 */
export const LEGACY_MARK: Uint8Array = Uint8Array.of(0x09, 0x20, 0x09);

/** Whether a legacy request or reply starts with `LEGACY_MARK`. */
export function hasLegacyMark(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0x09 && bytes[1] === 0x20 && bytes[2] === 0x09;
}

/** `bytes` with `LEGACY_MARK` in front. */
export function withLegacyMark(bytes: Uint8Array): Uint8Array {
  const marked = new Uint8Array(LEGACY_MARK.length + bytes.length);
  marked.set(LEGACY_MARK);
  marked.set(bytes, LEGACY_MARK.length);
  return marked;
}

/** Encodes a caller's arguments as a legacy request body; `marked` starts it with `LEGACY_MARK`. */
export function encodeLegacyRequest(args: unknown, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES, options: { marked?: boolean } = {}): Uint8Array {
  const body = encodeJson(args, "arguments", maxPayloadBytes);
  return options.marked === true ? withLegacyMark(body) : body;
}

/** Encodes a function's return value as a legacy reply. `undefined` becomes `null`; a value JSON cannot carry is a `bad_result` error. */
export function encodeLegacyReply(value: unknown): Uint8Array {
  return encodeJson(value, "result");
}

/**
 * Encodes a failed call for a legacy caller: `{"funkerError": {code, message, name, …}}`.
 * A 2017 caller parses it as an ordinary value instead of getting the empty
 * reply the 2017 functions sent; Funker's client recognises it as an error.
 */
export function encodeLegacyError(error: WireError): Uint8Array {
  return encodeErrorBody(error, (wire) => ({ [LEGACY_ERROR_KEY]: wire }));
}

/** A legacy reply as a caller reads it. `marked`: a Funker handler sent it (it also speaks the framed protocol). */
export type LegacyReply = { ok: true; value: unknown; marked: boolean } | { ok: false; error: FunkerError; marked: boolean };

/**
 * Reads a legacy reply. An object whose only key is `funkerError` holding a
 * known code is an error; an empty reply is what a 2017 function sent when it
 * threw or crashed, so it is a `handler_crashed` error, never a silent null.
 */
export function decodeLegacyReply(bytes: Uint8Array): LegacyReply {
  if (bytes.length === 0) {
    return {
      ok: false,
      error: new FunkerError("handler_crashed", "the function closed the connection without a reply (it threw or crashed)"),
      marked: false,
    };
  }
  const marked = hasLegacyMark(bytes);
  const value = decodeJson(bytes, "protocol_error", "reply");
  if (isLegacyError(value)) {
    return { ok: false, error: FunkerError.fromWire(readWireError(value[LEGACY_ERROR_KEY])), marked };
  }
  return { ok: true, value, marked };
}

function isLegacyError(value: unknown): value is Record<typeof LEGACY_ERROR_KEY, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== LEGACY_ERROR_KEY) return false;
  const inner = (value as Record<string, unknown>)[LEGACY_ERROR_KEY];
  return typeof inner === "object" && inner !== null && isErrorCode((inner as Record<string, unknown>)["code"]);
}

/**
 * Collects a legacy body (request or reply) up to a size limit. Chunks are
 * kept as they arrive and joined once at the end, and the limit is checked on
 * every chunk, so an oversized body is refused as soon as it passes the limit.
 */
export class LegacyBodyCollector {
  readonly maxPayloadBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  constructor(maxPayloadBytes?: number) {
    this.maxPayloadBytes = resolveMaxPayloadBytes(maxPayloadBytes);
  }

  get receivedBytes(): number {
    return this.length;
  }

  /** Throws `payload_too_large` once the body passes the limit. */
  push(chunk: Uint8Array): void {
    this.length += chunk.length;
    if (this.length > this.maxPayloadBytes) {
      throw new FunkerError("payload_too_large", `the body passed the limit of ${this.maxPayloadBytes} bytes`, {
        data: { limit: this.maxPayloadBytes },
      });
    }
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** The whole body, once the stream has ended. */
  bytes(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const joined = new Uint8Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      joined.set(chunk, offset);
      offset += chunk.length;
    }
    return joined;
  }
}
