/**
 * The framed protocol's vocabulary: the preface, the frame types and the
 * frames as decoded, and the byte layout both the encoder and the decoder
 * use (PROTOCOL.md section 5).
 */
import type { WireError } from "./errors.js";

/** The framed protocol versions this package speaks, oldest first. */
export const SUPPORTED_VERSIONS = [1, 2] as const;

/** A framed protocol version: 1 (JSON frame headers), or 2 (binary headers, the handler's HELLO, signed calls). */
export type ProtocolVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The highest framed protocol version this package speaks: what its encoders write unless told otherwise. */
export const PROTOCOL_VERSION = 2;

export function isSupportedVersion(version: unknown): version is ProtocolVersion {
  return version === 1 || version === 2;
}

/**
 * The first bytes a framed caller sends: NUL, "FUNKER", then the version.
 * NUL can never start a JSON text (nor a UTF-8 byte order mark), so a handler
 * tells framed from legacy callers by the first byte, without waiting.
 */
export function prefaceFor(version: number): Uint8Array {
  return Uint8Array.of(0x00, 0x46, 0x55, 0x4e, 0x4b, 0x45, 0x52, version);
}

/** The preface of `PROTOCOL_VERSION`. */
export const PREFACE: Uint8Array = prefaceFor(PROTOCOL_VERSION);

/** Frame type bytes. Types 0x80–0xFF are extensions: a receiver skips those it does not know. */
export const FrameType = {
  call: 0x01,
  result: 0x02,
  error: 0x03,
  heartbeat: 0x04,
  cancel: 0x05,
  /** Version 2: the handler's first frame, sent as soon as it reads the preface. */
  hello: 0x06,
} as const;

export type FrameTypeName = keyof typeof FrameType;

/** 1 byte type + 4 bytes payload length. */
export const FRAME_PREFIX_BYTES = 5;
/** Version 1: 4 bytes of header length at the start of every payload. */
export const HEADER_LENGTH_BYTES = 4;
/** Types from this one up are extensions: a receiver skips those it does not know. */
export const FIRST_EXTENSION_TYPE = 0x80;

/*
 * Version 2 flag bits (PROTOCOL.md section 5.4). A receiver refuses a bit
 * it does not know: a new field changes the layout that follows.
 */
export const CALL_HAS_HEARTBEAT = 0x01;
export const CALL_HAS_TRACEPARENT = 0x02;
export const CALL_HAS_TRACESTATE = 0x04;
export const CALL_HAS_METADATA = 0x08;
export const CALL_HAS_AUTH = 0x10;
export const REPLY_KEEP_ALIVE = 0x01;
export const ERROR_REFUSED = 0x02;
export const HELLO_AUTH_REQUIRED = 0x01;

export const V2_FLAGS = {
  call: CALL_HAS_HEARTBEAT | CALL_HAS_TRACEPARENT | CALL_HAS_TRACESTATE | CALL_HAS_METADATA | CALL_HAS_AUTH,
  result: REPLY_KEEP_ALIVE,
  error: REPLY_KEEP_ALIVE | ERROR_REFUSED,
  heartbeat: 0,
  cancel: 0,
  hello: HELLO_AUTH_REQUIRED,
} as const;

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
  /** The call's signature (version 2 only; PROTOCOL.md section 6.8). */
  auth?: CallAuth;
}

/**
 * What signs a call: the id of the key used, when the caller signed, and
 * the HMAC-SHA256 over the call (PROTOCOL.md section 6.8 says over what).
 */
export interface CallAuth {
  /** Names the shared key among those a handler accepts: 1 to 64 characters. */
  keyId: string;
  /** When the caller signed, ms since the Unix epoch; a handler refuses one outside its allowed clock skew. */
  timestamp: number;
  /** The 32 bytes of HMAC-SHA256. */
  mac: Uint8Array;
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

/** Version 2: the handler's first frame on a connection, sent before it reads a call. */
export interface HelloFrame {
  type: "hello";
  /** The version the handler speaks on this connection: the caller's. */
  version: ProtocolVersion;
  /** The handler refuses calls that are not signed with one of its keys. */
  authRequired: boolean;
  /** The function the replica serves, when it was told (`FUNKER_FUNCTION`). */
  functionName: string | undefined;
}

export type Frame = CallFrame | ResultFrame | ErrorFrame | HeartbeatFrame | CancelFrame | HelloFrame;

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

