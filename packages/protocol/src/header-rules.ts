import { FunkerError } from "./errors.js";
import type { ErrorCode } from "./errors.js";
import { FrameType } from "./frames.js";
import type { CallAuth, CallHeader, ProtocolVersion } from "./frames.js";
import { MAC_BYTES, MAX_CALL_ID_LENGTH, MAX_FUNCTION_NAME_LENGTH, MAX_KEY_ID_LENGTH, MAX_TRACE_CONTEXT_LENGTH } from "./limits.js";

/*
 * The rules of a call header, shared by `encodeCall` and the decoder so that
 * an encoder never sends a header a decoder refuses. Each throws `code`:
 * `bad_arguments` before sending (the call did not leave), `protocol_error`
 * on receipt.
 */

export function headerError(code: ErrorCode, message: string): FunkerError {
  return new FunkerError(code, message, code === "bad_arguments" ? { mayHaveRun: false } : {});
}

export function checkId(id: unknown, type: number, code: ErrorCode): asserts id is string {
  // Only error frames may carry an empty id: a failure before any call id was read.
  const minimum = type === FrameType.error ? 0 : 1;
  if (typeof id !== "string" || id.length < minimum || id.length > MAX_CALL_ID_LENGTH) {
    throw headerError(code, `frame type ${type} has no valid "id" (a string of ${minimum} to ${MAX_CALL_ID_LENGTH} characters)`);
  }
}

export function checkFunctionName(name: unknown, code: ErrorCode): asserts name is string {
  if (typeof name !== "string" || name.length === 0 || name.length > MAX_FUNCTION_NAME_LENGTH) {
    throw headerError(code, `the call has no valid "function" (a string of 1 to ${MAX_FUNCTION_NAME_LENGTH} characters)`);
  }
}

export function checkDeadline(deadline: unknown, code: ErrorCode): asserts deadline is number {
  if (typeof deadline !== "number" || !Number.isFinite(deadline) || deadline < 0) {
    throw headerError(code, 'the call has no valid "deadline" (milliseconds since the Unix epoch)');
  }
}

export function checkHeartbeatInterval(interval: unknown, code: ErrorCode): asserts interval is number {
  if (typeof interval !== "number" || !Number.isInteger(interval) || interval < 0) {
    throw headerError(code, '"heartbeatIntervalMs" must be a whole number of milliseconds, 0 or more');
  }
}

export function checkTraceContext(key: "traceparent" | "tracestate", value: unknown, code: ErrorCode): asserts value is string {
  if (typeof value !== "string" || value.length > MAX_TRACE_CONTEXT_LENGTH) {
    throw headerError(code, `"${key}" must be a string of at most ${MAX_TRACE_CONTEXT_LENGTH} characters`);
  }
}

export function checkMetadata(metadata: unknown, code: ErrorCode): asserts metadata is Record<string, string> {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw headerError(code, '"metadata" must be an object of strings');
  }
  for (const key of Object.keys(metadata)) {
    if (typeof (metadata as Record<string, unknown>)[key] !== "string") throw headerError(code, `metadata "${key}" must be a string`);
  }
}

/**
 * Applies the decoder's rules to a header about to be sent. Without
 * metadata, trace context or credentials it costs a few comparisons: the
 * optional fields are checked only when present.
 */
export function checkCallHeader(header: CallHeader, version: ProtocolVersion): void {
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
  if (header.auth !== undefined) {
    if (version === 1) throw headerError(code, "a signed call needs protocol version 2: version 1 carries no signature");
    checkAuth(header.auth, code);
  }
  if (version === 2 && header.heartbeatIntervalMs !== undefined && header.heartbeatIntervalMs > MAX_UINT32) {
    throw headerError(code, `"heartbeatIntervalMs" must be at most ${MAX_UINT32} in version 2`);
  }
}

const MAX_UINT32 = 0xffff_ffff;

export function checkAuth(auth: unknown, code: ErrorCode): asserts auth is CallAuth {
  const fields = auth as Partial<CallAuth> | null;
  if (typeof auth !== "object" || fields === null) throw headerError(code, "the call's signature must be { keyId, timestamp, mac }");
  if (typeof fields.keyId !== "string" || fields.keyId.length === 0 || fields.keyId.length > MAX_KEY_ID_LENGTH) {
    throw headerError(code, `the signature's key id must be a string of 1 to ${MAX_KEY_ID_LENGTH} characters`);
  }
  if (typeof fields.timestamp !== "number" || !Number.isFinite(fields.timestamp) || fields.timestamp < 0) {
    throw headerError(code, "the signature's timestamp must be milliseconds since the Unix epoch");
  }
  if (!(fields.mac instanceof Uint8Array) || fields.mac.length !== MAC_BYTES) throw headerError(code, `the signature's MAC must be ${MAC_BYTES} bytes`);
}

