import { FunkerError } from "./errors.js";
import { subject } from "./subject.js";

/**
 * Default limits, each with the reason for its number. Both sides check them
 * before they allocate: a peer can claim any length, and a claim alone must
 * never make us reserve memory.
 */

/**
 * The largest frame payload (and legacy body) accepted by default: 8 MiB.
 * Above AWS Lambda's 6 MB synchronous payload limit, so anything that runs on
 * Lambda fits, while a replica that accepts one call at a time holds at most
 * a few copies of it (bytes, string, parsed value) in memory. Larger data
 * belongs in a volume or an object store, passed by reference.
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

/**
 * The most a user may raise the payload limit to: 256 MiB. JSON.parse needs a
 * string, and V8's longest string is about 512 Mi UTF-16 units; half of that
 * leaves room for the decoded copy. The wire format's 32-bit length could say
 * more, but no JavaScript peer could parse it.
 */
export const MAX_PAYLOAD_BYTES_LIMIT = 256 * 1024 * 1024;

/**
 * The largest header inside a frame: 64 KiB. A header holds ids, a function
 * name, a deadline, a traceparent, caller metadata and credentials; 64 KiB is
 * far above any honest use and small enough to parse before the body.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** The deepest a JSON text may nest arrays and objects (see json-depth.ts for why 1,000). */
export { MAX_JSON_DEPTH } from "./json-depth.js";

/** The longest call id (characters). UUIDs take 36; room for other schemes. */
export const MAX_CALL_ID_LENGTH = 128;

/** The longest function name: a Docker service name is at most 63 characters. */
export const MAX_FUNCTION_NAME_LENGTH = 63;

/**
 * The longest `traceparent` or `tracestate` (characters). A W3C traceparent
 * takes 55; W3C asks tracers to propagate at least 512 characters of
 * tracestate, and no more is needed to keep a trace whole.
 */
export const MAX_TRACE_CONTEXT_LENGTH = 512;

/** The longest key id of a signed call (characters): room for a name or a hash prefix. */
export const MAX_KEY_ID_LENGTH = 64;

/** The size of a call's HMAC-SHA256 in bytes. */
export const MAC_BYTES = 32;

/** The longest cancel reason (bytes, version 2): for logs, not for prose. */
export const MAX_CANCEL_REASON_BYTES = 512;

/**
 * The heartbeat interval a caller asks for when it does not say: 5 s. The
 * caller declares a handler dead after `HEARTBEAT_MISSES_BEFORE_DEAD` missed
 * intervals, so a vanished replica is detected in about 15 s, far below the
 * idle timeouts that silently drop connections on overlay networks.
 */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;

/** The shortest heartbeat interval a handler honours, so a caller cannot make it busy-loop. */
export const MIN_HEARTBEAT_INTERVAL_MS = 10;

/** How many heartbeat intervals may pass in silence before a caller gives up on a handler. */
export const HEARTBEAT_MISSES_BEFORE_DEAD = 3;

/**
 * The payload limit a user chose, or `DEFAULT_MAX_PAYLOAD_BYTES` when none:
 * every place that takes a limit checks it here, so all refuse the same
 * values with the same `RangeError`.
 */
export function resolveMaxPayloadBytes(maxPayloadBytes: number | undefined): number {
  const limit = maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAYLOAD_BYTES_LIMIT) {
    throw new RangeError(`maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}`);
  }
  return limit;
}

/**
 * Refuses an encoded payload above the limit before it is sent, with the
 * `payload_too_large` error every sender reports: its size and the limit in
 * `data`, and `mayHaveRun: false`, since this payload never left.
 */
export function checkPayloadSize(size: number, limit: number, what: string): void {
  if (size <= limit) return;
  throw new FunkerError("payload_too_large", `${subject(what, "is")} ${size} bytes; the limit is ${limit}`, {
    mayHaveRun: false,
    data: { size, limit },
  });
}
