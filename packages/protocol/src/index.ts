export { FunkerError, errorCodes, errorCodeInfo, isErrorCode } from "./errors.js";
export type { ErrorCode, ErrorCodeInfo, RetryRule, WireError, WireErrorCause, FunkerErrorOptions } from "./errors.js";
export { encodeJson, decodeJson } from "./json.js";
export { PROTOCOL_VERSION, SUPPORTED_VERSIONS, PREFACE, FrameType, FRAME_PREFIX_BYTES, prefaceFor, isSupportedVersion } from "./frames.js";
export { encodeCall, encodeResult, encodeError, encodeHeartbeat, encodeCancel, encodeHello } from "./encode.js";
export type { VersionOption } from "./encode.js";
export { FrameDecoder } from "./decode.js";
export type { FrameTypeName, ProtocolVersion, CallHeader, CallAuth, CallFrame, ResultFrame, ErrorFrame, HeartbeatFrame, CancelFrame, HelloFrame, Frame } from "./frames.js";
export type { FrameDecoderOptions } from "./decode.js";
export {
  LEGACY_ERROR_KEY,
  LEGACY_MARK,
  hasLegacyMark,
  withLegacyMark,
  encodeLegacyRequest,
  encodeLegacyReply,
  encodeLegacyError,
  decodeLegacyReply,
  LegacyBodyCollector,
} from "./legacy.js";
export type { LegacyReply } from "./legacy.js";
export { detectWireMode } from "./wire-mode.js";
export type { WireMode } from "./wire-mode.js";
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_PAYLOAD_BYTES_LIMIT,
  MAX_HEADER_BYTES,
  MAX_CALL_ID_LENGTH,
  MAX_FUNCTION_NAME_LENGTH,
  MAX_TRACE_CONTEXT_LENGTH,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  MIN_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MISSES_BEFORE_DEAD,
  MAX_KEY_ID_LENGTH,
  MAC_BYTES,
  MAX_JSON_DEPTH,
} from "./limits.js";
