import { FunkerError } from "./errors.js";
import { ByteQueue } from "./byte-queue.js";
import { FIRST_EXTENSION_TYPE, FRAME_PREFIX_BYTES, FrameType, HEADER_LENGTH_BYTES, PREFACE, PROTOCOL_VERSION, readUint32 } from "./frames.js";
import type { CallFrame, CancelFrame, Frame } from "./frames.js";
import { checkDeadline, checkFunctionName, checkHeartbeatInterval, checkId, checkMetadata, checkTraceContext } from "./header-rules.js";
import { decodeJson } from "./json.js";
import { MAX_HEADER_BYTES, resolveMaxPayloadBytes } from "./limits.js";
import { readWireError } from "./wire-error.js";

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

