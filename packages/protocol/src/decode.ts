import { FunkerError } from "./errors.js";
import { ByteQueue } from "./byte-queue.js";
import {
  CALL_HAS_AUTH,
  CALL_HAS_HEARTBEAT,
  CALL_HAS_METADATA,
  CALL_HAS_TRACEPARENT,
  CALL_HAS_TRACESTATE,
  ERROR_REFUSED,
  FIRST_EXTENSION_TYPE,
  FRAME_PREFIX_BYTES,
  FrameType,
  HEADER_LENGTH_BYTES,
  HELLO_AUTH_REQUIRED,
  PREFACE,
  PROTOCOL_VERSION,
  REPLY_KEEP_ALIVE,
  SUPPORTED_VERSIONS,
  V2_FLAGS,
  isSupportedVersion,
  readUint32,
} from "./frames.js";
import type { CallFrame, CancelFrame, Frame, HelloFrame, ProtocolVersion } from "./frames.js";
import { checkAuth, checkDeadline, checkFunctionName, checkHeartbeatInterval, checkId, checkMetadata, checkTraceContext } from "./header-rules.js";
import { decodeJson, decodeUtf8 } from "./json.js";
import { MAC_BYTES, MAX_HEADER_BYTES, resolveMaxPayloadBytes } from "./limits.js";
import { readWireError } from "./wire-error.js";

export interface FrameDecoderOptions {
  /** Largest body accepted (arguments, result or error). Default `DEFAULT_MAX_PAYLOAD_BYTES`. */
  maxPayloadBytes?: number;
  /**
   * True on the handler side: the stream starts with a preface, whose
   * version (1 or 2) then governs the frames; `version` tells which once read.
   */
  expectPreface?: boolean;
  /**
   * The version of the frames when no preface is read (a caller's decoder):
   * the version the caller spoke. Default `PROTOCOL_VERSION`.
   */
  version?: ProtocolVersion;
  /**
   * A version 2 caller's decoder on a new connection: the first frame must
   * be the handler's HELLO, or a version 1 ERROR (a handler that does not
   * speak version 2 refusing the preface; `version` is then 1).
   */
  expectHello?: boolean;
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
 * A push decoder for the framed protocol, both versions: feed it chunks as
 * they arrive, in any sizes, and it returns the complete frames. It never
 * reads ahead of what it was given, never allocates for a length a peer
 * merely claims, and on bad input throws a `FunkerError` (`protocol_error`
 * or `payload_too_large`), after which it stays failed.
 */
export class FrameDecoder {
  readonly maxPayloadBytes: number;
  private readonly queue = new ByteQueue();
  private prefaceRemaining: boolean;
  private helloRemaining: boolean;
  private frameVersion: ProtocolVersion | undefined;
  private readonly reusedChunks: boolean;
  private failure: FunkerError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayloadBytes = resolveMaxPayloadBytes(options.maxPayloadBytes);
    this.prefaceRemaining = options.expectPreface ?? false;
    this.helloRemaining = !this.prefaceRemaining && options.expectHello === true;
    this.frameVersion = this.prefaceRemaining ? undefined : (options.version ?? PROTOCOL_VERSION);
    this.reusedChunks = options.reusedChunks ?? false;
  }

  /** The version of the frames: known from the start, or once the preface was read. */
  get version(): ProtocolVersion | undefined {
    return this.frameVersion;
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
      const version = this.frameVersion as ProtocolVersion;
      // Read in place: a view of the prefix per frame would be an allocation for five bytes.
      const type = this.queue.byteAt(0);
      // The type is checked before the length, so that a stray text protocol
      // ("HTTP/1.1 …") reads as a protocol error, not as a huge frame.
      if (type < FIRST_EXTENSION_TYPE && !knownFrameTypes.has(type)) throw unknownFrameType(type);
      // A version 2 caller's first frame: HELLO (then version 2), or a
      // version 1 ERROR refusing the preface (then version 1).
      const firstOfHello = this.helloRemaining;
      if (firstOfHello && type !== FrameType.hello && type !== FrameType.error) {
        throw new FunkerError("protocol_error", `the handler's first frame is type 0x${type.toString(16).padStart(2, "0")}, not a HELLO`);
      }
      const layout: ProtocolVersion = firstOfHello ? (type === FrameType.hello ? 2 : 1) : version;
      const payloadLength = this.queue.uint32At(1);
      if (layout === 1 && payloadLength < HEADER_LENGTH_BYTES) {
        throw new FunkerError("protocol_error", `frame type ${type} has a payload of ${payloadLength} bytes, less than its header length field`);
      }
      if (payloadLength > HEADER_LENGTH_BYTES + MAX_HEADER_BYTES + this.maxPayloadBytes) {
        throw tooLarge(payloadLength, this.maxPayloadBytes);
      }
      if (layout === 1 && this.queue.length >= FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES) {
        const headerLength = this.queue.uint32At(FRAME_PREFIX_BYTES);
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
      const decoded = layout === 1 ? decodeFrameV1(type, payload) : decodeFrameV2(type, payload, this.maxPayloadBytes);
      if (firstOfHello) {
        this.helloRemaining = false;
        this.frameVersion = layout;
      }
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
    if (!isSupportedVersion(version)) {
      throw new FunkerError(
        "protocol_error",
        `unsupported protocol version ${String(version)}; this peer speaks versions ${SUPPORTED_VERSIONS.join(" and ")}`,
        { data: { supportedVersions: [...SUPPORTED_VERSIONS] } },
      );
    }
    this.frameVersion = version;
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

/** A version 1 frame: a JSON header, then the body. */
function decodeFrameV1(type: number, payload: Uint8Array): Frame | undefined {
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
      // HELLO exists in version 2 only.
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
  // Version 1 carries no signature: its reserved "auth" field is ignored.
  return call;
}


/** Scratch for big-endian doubles, shared (decoding is synchronous): a DataView per double is an allocation per call. */
const doubleBytes = new Uint8Array(8);
const doubleView = new DataView(doubleBytes.buffer);

/** The body of a call until its bytes are read; shared, never written. */
const NO_BODY = new Uint8Array(0);

/** Reads a version 2 payload front to back; every read is checked against the payload's end. */
class PayloadReader {
  offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly type: number,
  ) {}

  private need(count: number): void {
    if (this.offset + count > this.bytes.length) {
      throw new FunkerError("protocol_error", `frame type ${this.type} ends ${this.offset + count - this.bytes.length} bytes short of its header`);
    }
  }

  uint8(): number {
    this.need(1);
    return this.bytes[this.offset++] as number;
  }

  uint16(): number {
    this.need(2);
    const value = ((this.bytes[this.offset] as number) << 8) | (this.bytes[this.offset + 1] as number);
    this.offset += 2;
    return value;
  }

  uint32(): number {
    this.need(4);
    const value = readUint32(this.bytes, this.offset);
    this.offset += 4;
    return value;
  }

  double(): number {
    this.need(8);
    for (let index = 0; index < 8; index += 1) doubleBytes[index] = this.bytes[this.offset + index] as number;
    this.offset += 8;
    return doubleView.getFloat64(0);
  }

  raw(count: number): Uint8Array {
    this.need(count);
    const bytes = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return bytes;
  }

  /** Text of `count` bytes: ASCII by a byte loop (ids and names), anything else through the strict UTF-8 decoder. */
  text(count: number): string {
    const bytes = this.raw(count);
    let ascii = "";
    for (let index = 0; index < bytes.length; index += 1) {
      const byte = bytes[index] as number;
      if (byte >= 0x80) return decodeUtf8(bytes, "protocol_error");
      ascii += String.fromCharCode(byte);
    }
    return ascii;
  }

  rest(): Uint8Array {
    const bytes = this.bytes.subarray(this.offset);
    this.offset = this.bytes.length;
    return bytes;
  }

  get headerBytes(): number {
    return this.offset;
  }
}

/** A version 2 frame: flags, then the fields the type defines, then the body (PROTOCOL.md section 5.4). */
function decodeFrameV2(type: number, payload: Uint8Array, maxPayloadBytes: number): Frame | undefined {
  if (type >= FIRST_EXTENSION_TYPE) return undefined;
  const reader = new PayloadReader(payload, type);
  if (type === FrameType.hello) return decodeHello(reader);
  const flags = reader.uint8();
  const known = type === FrameType.call ? V2_FLAGS.call : type === FrameType.result ? V2_FLAGS.result : type === FrameType.error ? V2_FLAGS.error : 0;
  if ((flags & ~known) !== 0) throw new FunkerError("protocol_error", `frame type ${type} sets flags 0x${flags.toString(16)} this version does not define`);
  const id = reader.text(reader.uint8());
  checkId(id, type, "protocol_error");
  if (type === FrameType.call) return decodeCallV2(reader, flags, id, maxPayloadBytes);
  const body = reader.rest();
  if (body.length > maxPayloadBytes) throw tooLarge(body.length, maxPayloadBytes);
  switch (type) {
    case FrameType.result:
      return { type: "result", id, keepAlive: (flags & REPLY_KEEP_ALIVE) !== 0, body };
    case FrameType.error:
      return {
        type: "error",
        id,
        keepAlive: (flags & REPLY_KEEP_ALIVE) !== 0,
        refused: (flags & ERROR_REFUSED) !== 0,
        error: readWireError(decodeJson(body, "protocol_error", "error")),
      };
    case FrameType.heartbeat:
      if (body.length > 0) throw new FunkerError("protocol_error", "a heartbeat has a body");
      return { type: "heartbeat", id };
    case FrameType.cancel: {
      const cancel: CancelFrame = { type: "cancel", id };
      if (body.length > 0) cancel.reason = decodeUtf8(body, "protocol_error");
      return cancel;
    }
    default:
      throw unknownFrameType(type);
  }
}

function decodeHello(reader: PayloadReader): HelloFrame {
  const version = reader.uint8();
  if (version !== 2) throw new FunkerError("protocol_error", `a HELLO for version ${version}, not 2`);
  const flags = reader.uint8();
  if ((flags & ~V2_FLAGS.hello) !== 0) throw new FunkerError("protocol_error", `a HELLO sets flags 0x${flags.toString(16)} this version does not define`);
  const nameLength = reader.uint8();
  const functionName = nameLength === 0 ? undefined : reader.text(nameLength);
  if (reader.rest().length > 0) throw new FunkerError("protocol_error", "a HELLO has bytes after its fields");
  return { type: "hello", version: 2, authRequired: (flags & HELLO_AUTH_REQUIRED) !== 0, functionName };
}

function decodeCallV2(reader: PayloadReader, flags: number, id: string, maxPayloadBytes: number): CallFrame {
  const code = "protocol_error";
  const name = reader.text(reader.uint8());
  checkFunctionName(name, code);
  const deadline = reader.double();
  checkDeadline(deadline, code);
  const call: CallFrame = { type: "call", id, function: name, deadline, body: NO_BODY };
  if ((flags & CALL_HAS_HEARTBEAT) !== 0) {
    const heartbeat = reader.uint32();
    checkHeartbeatInterval(heartbeat, code);
    call.heartbeatIntervalMs = heartbeat;
  }
  if ((flags & CALL_HAS_TRACEPARENT) !== 0) {
    const value = reader.text(reader.uint16());
    checkTraceContext("traceparent", value, code);
    call.traceparent = value;
  }
  if ((flags & CALL_HAS_TRACESTATE) !== 0) {
    const value = reader.text(reader.uint16());
    checkTraceContext("tracestate", value, code);
    call.tracestate = value;
  }
  if ((flags & CALL_HAS_METADATA) !== 0) {
    const length = reader.uint32();
    if (length > MAX_HEADER_BYTES) throw new FunkerError(code, `metadata of ${length} bytes exceeds the header limit of ${MAX_HEADER_BYTES}`);
    const metadata = decodeJson(reader.raw(length), code, "frame header");
    checkMetadata(metadata, code);
    // A null-prototype copy, so no key can reach Object.prototype.
    call.metadata = Object.assign(Object.create(null) as Record<string, string>, metadata);
  }
  if ((flags & CALL_HAS_AUTH) !== 0) {
    const keyId = reader.text(reader.uint8());
    const auth = { keyId, timestamp: reader.double(), mac: reader.raw(MAC_BYTES) };
    checkAuth(auth, code);
    call.auth = auth;
  }
  if (reader.headerBytes > MAX_HEADER_BYTES) throw new FunkerError(code, `a call header of ${reader.headerBytes} bytes exceeds the limit of ${MAX_HEADER_BYTES}`);
  call.body = reader.rest();
  if (call.body.length > maxPayloadBytes) throw tooLarge(call.body.length, maxPayloadBytes);
  return call;
}
