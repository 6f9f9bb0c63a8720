/**
 * The framed protocol's vocabulary: the preface, the frame types and the
 * frames as decoded, and the byte layout both the encoder and the decoder
 * use (PROTOCOL.md section 5).
 */
import type { WireError } from "./errors.js";

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
export const HEADER_LENGTH_BYTES = 4;
/** Types from this one up are extensions: a receiver skips those it does not know. */
export const FIRST_EXTENSION_TYPE = 0x80;

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

/** Big-endian, as DataView reads it, without a DataView per frame. */
export function readUint32(bytes: Uint8Array, offset: number): number {
  return (((bytes[offset] as number) << 24) >>> 0) + (((bytes[offset + 1] as number) << 16) | ((bytes[offset + 2] as number) << 8) | (bytes[offset + 3] as number));
}

/** Big-endian, as DataView writes it, without a DataView per frame. */
export function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

