import { FunkerError, MAX_CAUSE_DEPTH, isErrorCode } from "./errors.js";
import type { WireError, WireErrorCause } from "./errors.js";
import { encodeJson } from "./json.js";

/*
 * The error body (PROTOCOL.md section 8.1): the body of an ERROR frame and
 * the value of a legacy error object, written and read the same way in
 * both wire modes.
 */

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

