import { FunkerError, MAX_CAUSE_DEPTH, isErrorCode } from "./errors.js";
import type { ErrorCode, WireError, WireErrorCause } from "./errors.js";
import { commitBytes, decodeJson, encodeJson, refusePrototypeKeysInText, reserveBytes, stringifyJson, writeUtf8 } from "./json.js";
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_CALL_ID_LENGTH,
  MAX_FUNCTION_NAME_LENGTH,
  MAX_HEADER_BYTES,
  MAX_TRACE_CONTEXT_LENGTH,
  checkPayloadSize,
  resolveMaxPayloadBytes,
} from "./limits.js";

/** The framed protocol version this package speaks. */
export const PROTOCOL_VERSION = 1;

/**
 * The first bytes a framed caller sends: NUL, "FUNKER", then the version.
 * NUL can never start a JSON text (nor a UTF-8 byte order mark), so a handler
 * tells framed from legacy callers by the first byte, without waiting.
 */
export const PREFACE: Uint8Array = Uint8Array.of(0x00, 0x46, 0x55, 0x4e, 0x4b, 0x45, 0x52, PROTOCOL_VERSION);

/** Frame type bytes. Types 0x80–0xFF are extensions: a receiver skips those it does not know. */
export const FrameType = {
  call: 0x01,
  result: 0x02,
  error: 0x03,
  heartbeat: 0x04,
  cancel: 0x05,
} as const;

export type FrameTypeName = keyof typeof FrameType;

/** 1 byte type + 4 bytes payload length. */
export const FRAME_PREFIX_BYTES = 5;
/** 4 bytes of header length at the start of every payload. */
const HEADER_LENGTH_BYTES = 4;
const FIRST_EXTENSION_TYPE = 0x80;

/** What a caller sends to start a call. */
export interface CallHeader {
  /** Unique per call; echoed in every frame about this call. */
  id: string;
  /** The function the caller means; a replica serving another one refuses the call. */
  function: string;
  /** Absolute deadline, milliseconds since the Unix epoch (UTC). */
  deadline: number;
  /** How often the handler sends heartbeats while the call runs, in ms; 0 for never. */
  heartbeatIntervalMs?: number;
  /** W3C trace context. */
  traceparent?: string;
  tracestate?: string;
  /** Caller metadata: string keys to string values. */
  metadata?: Record<string, string>;
  /**
   * Credentials. Reserved: version 1 handlers without authentication
   * configured ignore it; an authenticating handler defines its shape.
   */
  auth?: unknown;
}

export interface CallFrame extends CallHeader {
  type: "call";
  /** The arguments' JSON text, as UTF-8 bytes; decode with `decodeJson`. */
  body: Uint8Array;
}

export interface ResultFrame {
  type: "result";
  id: string;
  /** True when the handler keeps the connection open for another call. */
  keepAlive: boolean;
  /** The result's JSON text, as UTF-8 bytes; decode with `decodeJson`. */
  body: Uint8Array;
}

export interface ErrorFrame {
  type: "error";
  /** The failed call's id; empty when the failure came before a call id was known. */
  id: string;
  keepAlive: boolean;
  /** True when the handler did not start the function for this call: it is safe to deliver elsewhere. */
  refused: boolean;
  error: WireError;
}

export interface HeartbeatFrame {
  type: "heartbeat";
  id: string;
}

export interface CancelFrame {
  type: "cancel";
  id: string;
  reason?: string;
}

export type Frame = CallFrame | ResultFrame | ErrorFrame | HeartbeatFrame | CancelFrame;

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

/** Big-endian, as DataView reads it, without a DataView per frame. */
function readUint32(bytes: Uint8Array, offset: number): number {
  return (((bytes[offset] as number) << 24) >>> 0) + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
}

/** Big-endian, as DataView writes it, without a DataView per frame. */
function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
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
 * Applies the decoder's rules to a header about to be sent. Without
 * metadata, trace context or credentials it costs a few comparisons: the
 * optional fields are checked only when present.
 */
function checkCallHeader(header: CallHeader): void {
  const code = "bad_arguments";
  checkId(header.id, FrameType.call, code);
  checkFunctionName(header.function, code);
  checkDeadline(header.deadline, code);
  if (header.heartbeatIntervalMs !== undefined) checkHeartbeatInterval(header.heartbeatIntervalMs, code);
  if (header.traceparent !== undefined) checkTraceContext("traceparent", header.traceparent, code);
  if (header.tracestate !== undefined) checkTraceContext("tracestate", header.tracestate, code);
  if (header.metadata !== undefined) {
    checkMetadata(header.metadata, code);
    // Other objects (a Map, a class instance, a boxed string) are not
    // written by JSON as the entries checked above.
    const prototype: unknown = Object.getPrototypeOf(header.metadata);
    if (prototype !== Object.prototype && prototype !== null) throw headerError(code, '"metadata" must be a plain object of strings');
  }
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

/**
 * Encodes an error body, and never fails for what the error carries: when
 * its `data` or causes hold a value JSON cannot carry (a BigInt, NaN, a Map
 * a function attached to its error), the error is sent without them and
 * says so, rather than leaving the caller without any reply.
 */
export function encodeErrorBody(error: WireError, wrap: (wire: WireError) => unknown): Uint8Array {
  try {
    return encodeJson(wrap(error), "error");
  } catch (encodeFailure) {
    const reason = encodeFailure instanceof Error ? encodeFailure.message : String(encodeFailure);
    const plain: WireError = { code: error.code, message: String(error.message), data: { omitted: `the error's data or causes could not be sent: ${reason}` } };
    if (typeof error.name === "string") plain.name = error.name;
    if (typeof error.stack === "string") plain.stack = error.stack;
    return encodeJson(wrap(plain), "error");
  }
}

export function encodeHeartbeat(id: string): Uint8Array {
  return frame(FrameType.heartbeat, JSON.stringify({ id }));
}

export function encodeCancel(id: string, reason?: string): Uint8Array {
  return frame(FrameType.cancel, JSON.stringify(reason === undefined ? { id } : { id, reason }));
}

export interface FrameDecoderOptions {
  /** Largest body accepted (arguments, result or error). Default `DEFAULT_MAX_PAYLOAD_BYTES`. */
  maxPayloadBytes?: number;
  /** True on the handler side: the stream starts with `PREFACE`. */
  expectPreface?: boolean;
  /**
   * True when the memory of a chunk is reused once `push` returns (a socket
   * read into one buffer, as Node's `onread` does): the decoder then copies
   * the bytes of an unfinished frame that it keeps. The frames `push`
   * returns still view the chunk, so their bodies must be read before the
   * chunk's memory is.
   */
  reusedChunks?: boolean;
}

/**
 * A push decoder for the framed protocol: feed it chunks as they arrive, in
 * any sizes, and it returns the complete frames. It never reads ahead of what
 * it was given, never allocates for a length a peer merely claims, and on bad
 * input throws a `FunkerError` (`protocol_error` or `payload_too_large`),
 * after which it stays failed.
 */
export class FrameDecoder {
  readonly maxPayloadBytes: number;
  private readonly queue = new ByteQueue();
  private prefaceRemaining: boolean;
  private readonly reusedChunks: boolean;
  private failure: FunkerError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayloadBytes = resolveMaxPayloadBytes(options.maxPayloadBytes);
    this.prefaceRemaining = options.expectPreface ?? false;
    this.reusedChunks = options.reusedChunks ?? false;
  }

  /** Bytes received but not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.queue.length;
  }

  /** Decodes every complete frame in the bytes received so far. */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure !== undefined) throw this.failure;
    try {
      this.queue.push(chunk);
      const frames = this.drain();
      if (this.reusedChunks) this.queue.ownRemainder();
      return frames;
    } catch (error) {
      this.failure = FunkerError.from(error, "protocol_error");
      throw this.failure;
    }
  }

  /**
   * Declares the end of the stream. Throws `protocol_error` when the stream
   * ended inside a frame (a truncated frame).
   */
  end(): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.queue.length > 0) {
      this.failure = new FunkerError("protocol_error", `the stream ended inside a frame (${this.queue.length} bytes left over)`);
      throw this.failure;
    }
  }

  private drain(): Frame[] {
    const frames: Frame[] = [];
    if (this.prefaceRemaining) {
      if (!this.checkPreface()) return frames;
      this.prefaceRemaining = false;
    }
    for (;;) {
      if (this.queue.length < FRAME_PREFIX_BYTES) return frames;
      const prefix = this.queue.peek(FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES);
      const type = prefix[0] as number;
      // The type is checked before the length, so that a stray text protocol
      // ("HTTP/1.1 …") reads as a protocol error, not as a huge frame.
      if (type < FIRST_EXTENSION_TYPE && !knownFrameTypes.has(type)) throw unknownFrameType(type);
      const payloadLength = readUint32(prefix, 1);
      if (payloadLength < HEADER_LENGTH_BYTES) {
        throw new FunkerError("protocol_error", `frame type ${type} has a payload of ${payloadLength} bytes, less than its header length field`);
      }
      if (payloadLength > HEADER_LENGTH_BYTES + MAX_HEADER_BYTES + this.maxPayloadBytes) {
        throw tooLarge(payloadLength, this.maxPayloadBytes);
      }
      if (prefix.length >= FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES) {
        const headerLength = readUint32(prefix, FRAME_PREFIX_BYTES);
        if (headerLength > MAX_HEADER_BYTES) {
          throw new FunkerError("protocol_error", `a frame header of ${headerLength} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
        }
        if (headerLength > payloadLength - HEADER_LENGTH_BYTES) {
          throw new FunkerError("protocol_error", `a frame header of ${headerLength} bytes does not fit its ${payloadLength}-byte payload`);
        }
        const bodyLength = payloadLength - HEADER_LENGTH_BYTES - headerLength;
        if (bodyLength > this.maxPayloadBytes) throw tooLarge(bodyLength, this.maxPayloadBytes);
      }
      if (this.queue.length < FRAME_PREFIX_BYTES + payloadLength) return frames;
      this.queue.skip(FRAME_PREFIX_BYTES);
      const payload = this.queue.take(payloadLength);
      const decoded = decodeFrame(type, payload);
      if (decoded !== undefined) frames.push(decoded);
    }
  }

  private checkPreface(): boolean {
    const available = this.queue.peek(Math.min(this.queue.length, PREFACE.length));
    // Compare what has arrived so far, so garbage fails at its first byte.
    for (let index = 0; index < available.length && index < PREFACE.length - 1; index += 1) {
      if (available[index] !== PREFACE[index]) {
        throw new FunkerError("protocol_error", "the stream does not start with the Funker preface");
      }
    }
    if (available.length < PREFACE.length) return false;
    const version = available[PREFACE.length - 1];
    if (version !== PROTOCOL_VERSION) {
      throw new FunkerError(
        "protocol_error",
        `unsupported protocol version ${String(version)}; this peer speaks version ${PROTOCOL_VERSION}`,
        { data: { supportedVersions: [PROTOCOL_VERSION] } },
      );
    }
    this.queue.skip(PREFACE.length);
    return true;
  }
}

const knownFrameTypes: ReadonlySet<number> = new Set(Object.values(FrameType));

function unknownFrameType(type: number): FunkerError {
  return new FunkerError("protocol_error", `unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
}

function tooLarge(size: number, limit: number): FunkerError {
  return new FunkerError("payload_too_large", `a frame of ${size} bytes exceeds the payload limit of ${limit} bytes`, {
    data: { size, limit },
  });
}

function decodeFrame(type: number, payload: Uint8Array): Frame | undefined {
  const headerLength = readUint32(payload, 0);
  const headerBytes = payload.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerLength);
  const body = payload.subarray(HEADER_LENGTH_BYTES + headerLength);
  if (type >= FIRST_EXTENSION_TYPE) return undefined;
  const header = decodeJson(headerBytes, "protocol_error", "frame header");
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new FunkerError("protocol_error", `the header of frame type ${type} is not a JSON object`);
  }
  const fields = header as Record<string, unknown>;
  const id = readId(fields, type);
  switch (type) {
    case FrameType.call:
      return decodeCall(fields, id, body);
    case FrameType.result:
      return { type: "result", id, keepAlive: fields["keepAlive"] === true, body };
    case FrameType.error:
      return {
        type: "error",
        id,
        keepAlive: fields["keepAlive"] === true,
        refused: fields["refused"] === true,
        error: readWireError(decodeJson(body, "protocol_error", "error")),
      };
    case FrameType.heartbeat:
      return { type: "heartbeat", id };
    case FrameType.cancel: {
      const cancel: CancelFrame = { type: "cancel", id };
      if (typeof fields["reason"] === "string") cancel.reason = fields["reason"];
      return cancel;
    }
    default:
      throw unknownFrameType(type);
  }
}

function readId(fields: Record<string, unknown>, type: number): string {
  const id = fields["id"];
  checkId(id, type, "protocol_error");
  return id;
}

function decodeCall(fields: Record<string, unknown>, id: string, body: Uint8Array): CallFrame {
  const code = "protocol_error";
  const name = fields["function"];
  checkFunctionName(name, code);
  const deadline = fields["deadline"];
  checkDeadline(deadline, code);
  const call: CallFrame = { type: "call", id, function: name, deadline, body };
  const heartbeat = fields["heartbeatIntervalMs"];
  if (heartbeat !== undefined) {
    checkHeartbeatInterval(heartbeat, code);
    call.heartbeatIntervalMs = heartbeat;
  }
  for (const key of ["traceparent", "tracestate"] as const) {
    const value = fields[key];
    if (value === undefined) continue;
    checkTraceContext(key, value, code);
    call[key] = value;
  }
  const metadata = fields["metadata"];
  if (metadata !== undefined) {
    checkMetadata(metadata, code);
    // A null-prototype copy, so no key can reach Object.prototype.
    call.metadata = Object.assign(Object.create(null) as Record<string, string>, metadata);
  }
  if (fields["auth"] !== undefined) call.auth = fields["auth"];
  return call;
}

/*
 * The rules of a call header, shared by `encodeCall` and the decoder so that
 * an encoder never sends a header a decoder refuses. Each throws `code`:
 * `bad_arguments` before sending (the call did not leave), `protocol_error`
 * on receipt.
 */

function headerError(code: ErrorCode, message: string): FunkerError {
  return new FunkerError(code, message, code === "bad_arguments" ? { mayHaveRun: false } : {});
}

function checkId(id: unknown, type: number, code: ErrorCode): asserts id is string {
  // Only error frames may carry an empty id: a failure before any call id was read.
  const minimum = type === FrameType.error ? 0 : 1;
  if (typeof id !== "string" || id.length < minimum || id.length > MAX_CALL_ID_LENGTH) {
    throw headerError(code, `frame type ${type} has no valid "id" (a string of ${minimum} to ${MAX_CALL_ID_LENGTH} characters)`);
  }
}

function checkFunctionName(name: unknown, code: ErrorCode): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_FUNCTION_NAME_LENGTH) {
    throw headerError(code, `the call has no valid "function" (a string of 1 to ${MAX_FUNCTION_NAME_LENGTH} characters)`);
  }
}

function checkDeadline(deadline: unknown, code: ErrorCode): asserts deadline is number {
  if (typeof deadline !== "number" || !Number.isFinite(deadline) || deadline < 0) {
    throw headerError(code, 'the call has no valid "deadline" (milliseconds since the Unix epoch)');
  }
}

function checkHeartbeatInterval(interval: unknown, code: ErrorCode): asserts interval is number {
  if (typeof interval !== "number" || !Number.isInteger(interval) || interval < 0) {
    throw headerError(code, '"heartbeatIntervalMs" must be a whole number of milliseconds, 0 or more');
  }
}

function checkTraceContext(key: "traceparent" | "tracestate", value: unknown, code: ErrorCode): asserts value is string {
  if (typeof value !== "string" || value.length > MAX_TRACE_CONTEXT_LENGTH) {
    throw headerError(code, `"${key}" must be a string of at most ${MAX_TRACE_CONTEXT_LENGTH} characters`);
  }
}

function checkMetadata(metadata: unknown, code: ErrorCode): asserts metadata is Record<string, string> {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw headerError(code, '"metadata" must be an object of strings');
  }
  for (const key of Object.keys(metadata)) {
    if (typeof (metadata as Record<string, unknown>)[key] !== "string") throw headerError(code, `metadata "${key}" must be a string`);
  }
}

/** Reads an error body; a malformed one is a protocol error, an unknown code reads as `internal`. */
export function readWireError(value: unknown): WireError {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FunkerError("protocol_error", "an error body is not a JSON object");
  }
  const fields = value as Record<string, unknown>;
  const message = fields["message"];
  if (typeof message !== "string") throw new FunkerError("protocol_error", 'an error body has no "message" string');
  const wire: WireError = { code: isErrorCode(fields["code"]) ? fields["code"] : "internal", message };
  if (typeof fields["name"] === "string") wire.name = fields["name"];
  if (fields["data"] !== undefined) wire.data = fields["data"];
  if (typeof fields["stack"] === "string") wire.stack = fields["stack"];
  const cause = readWireCause(fields["cause"], 0);
  if (cause !== undefined) wire.cause = cause;
  return wire;
}

function readWireCause(value: unknown, depth: number): WireErrorCause | undefined {
  if (typeof value !== "object" || value === null || depth >= MAX_CAUSE_DEPTH) return undefined;
  const fields = value as Record<string, unknown>;
  const cause: WireErrorCause = {
    name: typeof fields["name"] === "string" ? fields["name"] : "Error",
    message: typeof fields["message"] === "string" ? fields["message"] : "",
  };
  if (typeof fields["code"] === "string") cause.code = fields["code"];
  if (fields["data"] !== undefined) cause.data = fields["data"];
  if (typeof fields["stack"] === "string") cause.stack = fields["stack"];
  const inner = readWireCause(fields["cause"], depth + 1);
  if (inner !== undefined) cause.cause = inner;
  return cause;
}

/**
 * Bytes received and not yet consumed, in one contiguous buffer. A chunk that
 * arrives into an empty queue is used in place, so a frame that comes in one
 * chunk is never copied. Otherwise chunks are appended to an owned buffer that
 * grows by doubling: a peer that trickles one byte per packet costs amortised
 * constant work per byte, not one object per byte. Views handed out stay
 * valid, because growth allocates a new buffer and appends only write past
 * every handed-out byte.
 */
class ByteQueue {
  private buffer: Uint8Array = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    const length = this.length;
    if (length === 0) {
      this.buffer = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    if (!this.owned || this.end + chunk.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * (length + chunk.length), 4096));
      grown.set(this.buffer.subarray(this.start, this.end));
      this.buffer = grown;
      this.start = 0;
      this.end = length;
      this.owned = true;
    }
    this.buffer.set(chunk, this.end);
    this.end += chunk.length;
  }

  /**
   * Copies what is left into a buffer of its own, when it still views a
   * chunk whose memory its owner is about to reuse. Room to spare, so that
   * the rest of a large frame is appended without another copy.
   */
  ownRemainder(): void {
    if (this.owned || this.length === 0) return;
    const length = this.length;
    const owned = new Uint8Array(Math.max(2 * length, 4096));
    owned.set(this.buffer.subarray(this.start, this.end));
    this.buffer = owned;
    this.start = 0;
    this.end = length;
    this.owned = true;
  }

  /** Up to `count` bytes from the front, without consuming them. */
  peek(count: number): Uint8Array {
    return this.buffer.subarray(this.start, this.start + Math.min(count, this.length));
  }

  take(count: number): Uint8Array {
    const bytes = this.buffer.subarray(this.start, this.start + count);
    this.skip(count);
    return bytes;
  }

  skip(count: number): void {
    this.start += count;
    if (this.start === this.end) {
      // Drop the reference so a large finished frame can be collected.
      this.buffer = new Uint8Array(0);
      this.start = 0;
      this.end = 0;
      this.owned = false;
    }
  }
}
