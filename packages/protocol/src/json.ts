import { FunkerError } from "./errors.js";
import type { ErrorCode } from "./errors.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.js";
import { LossyValue, NestedTooDeep, OverBudget, stringifyFaithfully } from "./json-faithful.js";
import { checkPayloadSize } from "./limits.js";
import { subject } from "./subject.js";

const utf8Encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, never silently replaced by U+FFFD.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Small byte arrays are carved out of a shared slab, as Node's Buffer pool
 * does: allocating an ArrayBuffer costs over a microsecond, more than
 * encoding a small frame. Views handed out are never written again (a full
 * slab is replaced, not reused), so they stay valid; they share their
 * `buffer` with other views, which must therefore never be transferred or
 * detached.
 */
const SLAB_BYTES = 8 * 1024;
/** Larger arrays get their own buffer, so that a small one never pins much memory. */
const LARGEST_SLAB_ALLOCATION = SLAB_BYTES / 2;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * Reserves up to `size` bytes; `commitBytes` then keeps what was written.
 * Only one reservation is open at a time (everything here is synchronous).
 */
export function reserveBytes(size: number): Uint8Array {
  if (size > LARGEST_SLAB_ALLOCATION) return new Uint8Array(size);
  if (slabUsed + size > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  return new Uint8Array(slab, slabUsed, size);
}

/** Keeps the first `length` bytes of the latest reservation and returns them. */
export function commitBytes(reserved: Uint8Array, length: number): Uint8Array {
  if (reserved.buffer !== slab) return length === reserved.length ? reserved : reserved.subarray(0, length);
  // Eight-byte alignment, as Node's pool keeps, so views stay aligned for any element size.
  slabUsed = (reserved.byteOffset + length + 7) & ~7;
  return length === reserved.length ? reserved : new Uint8Array(slab, reserved.byteOffset, length);
}

/**
 * Encodes a string as UTF-8. The result may share its `buffer` with other
 * encoded values: read it through its offset and length, never transfer it.
 */
export function encodeUtf8(text: string): Uint8Array {
  // UTF-8 takes at most three bytes per UTF-16 code unit.
  const most = text.length * 3;
  if (most > LARGEST_SLAB_ALLOCATION) return utf8Encoder.encode(text);
  const reserved = reserveBytes(most);
  return commitBytes(reserved, utf8Encoder.encodeInto(text, reserved).written);
}

/** Writes `text` as UTF-8 into `target` at `offset`; returns the bytes written (the target must have room for 3 × its length). */
export function writeUtf8(text: string, target: Uint8Array, offset: number): number {
  return utf8Encoder.encodeInto(text, offset === 0 ? target : target.subarray(offset)).written;
}

/**
 * Decodes UTF-8 strictly. A leading byte order mark is dropped, as JSON
 * parsers that read bytes do.
 */
export function decodeUtf8(bytes: Uint8Array, code: ErrorCode = "protocol_error"): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (error) {
    throw new FunkerError(code, "the payload is not valid UTF-8", { cause: error });
  }
}

/**
 * Encodes a value as one UTF-8 JSON text.
 *
 * `undefined` at the top level becomes `null`, as the 2017 implementations
 * did. Values that JSON cannot carry faithfully are an error rather than a
 * silent loss: BigInt, functions, symbols, Map, Set, cycles, and NaN or
 * ±Infinity (which JSON.stringify would turn into null). `undefined` inside
 * objects is dropped, and inside arrays becomes null: that is what JSON means
 * by absence, and what every JSON peer does.
 *
 * `what` names the value in messages; the error is `bad_result` when it is
 * `"result"`, and `bad_arguments` otherwise. With `maxBytes`, a text longer
 * than that is refused with `payload_too_large`, as soon as it is known to
 * be (see `stringifyJson`).
 */
export function encodeJson(value: unknown, what = "value", maxBytes?: number): Uint8Array {
  const bytes = encodeUtf8(stringifyJson(value, what, maxBytes));
  if (maxBytes !== undefined) checkPayloadSize(bytes.length, maxBytes, what);
  return bytes;
}

/**
 * `encodeJson` without the UTF-8 step. With `maxBytes`, refuses with
 * `payload_too_large` a value whose text is known to take more than that
 * many UTF-8 bytes before it is built (counting the characters of its
 * strings as it goes); the exact length of a text that passes is the
 * caller's to check.
 */
export function stringifyJson(value: unknown, what = "value", maxBytes?: number): string {
  if (value === undefined) return "null";
  // Only arguments are the caller's to fix; a result JSON cannot carry is its function's doing.
  const code: ErrorCode = what === "result" ? "bad_result" : "bad_arguments";
  let text: string | undefined;
  try {
    text = stringifyFaithfully(value, maxBytes);
  } catch (error) {
    if (error instanceof FunkerError) throw error;
    if (error instanceof NestedTooDeep) throw tooDeep(code, what);
    if (error instanceof OverBudget) {
      throw new FunkerError("payload_too_large", `${subject(what, "is")} at least ${error.atLeast} bytes; the limit is ${maxBytes}`, {
        mayHaveRun: false,
        data: { atLeast: error.atLeast, limit: maxBytes },
      });
    }
    // V8's own limit on a string's length (about 512 Mi UTF-16 units), far above any payload limit.
    if (error instanceof RangeError && error.message === "Invalid string length") {
      throw new FunkerError("payload_too_large", `${subject(what, "is")} longer than a JavaScript string can hold${maxBytes === undefined ? "" : `; the limit is ${maxBytes}`}`, {
        cause: error,
        mayHaveRun: false,
        data: maxBytes === undefined ? undefined : { limit: maxBytes },
      });
    }
    // TypeError: cycles; RangeError: nesting deeper than V8's stack.
    const reason =
      error instanceof LossyValue
        ? `${error.message}, which JSON cannot carry`
        : error instanceof RangeError
          ? `it is nested too deeply (${error.message})`
          : error instanceof Error
            ? error.message
            : String(error);
    throw new FunkerError(code, `${subject(what, "is")} not valid JSON: ${reason}`, error instanceof LossyValue ? {} : { cause: error });
  }
  if (text === undefined) throw new FunkerError(code, `${subject(what, "is")} not valid JSON: it is a ${typeof value}`);
  return text;
}

/**
 * Decodes one UTF-8 JSON text, strictly.
 *
 * Objects with a `__proto__` key, or a `constructor` key holding a
 * `prototype`, are refused: JSON.parse itself makes them harmless own
 * properties, but any later deep merge or `Object.assign` in user code would
 * turn them into prototype pollution, and no honest call needs such a key.
 * Refusing loudly loses nothing; stripping silently would.
 *
 * A text nested more than `MAX_JSON_DEPTH` deep is refused before it is
 * parsed: V8's JSON.parse does not overflow on it, but pays far more per
 * byte for it than for flat data. The pollution scan below is iterative.
 */
export function decodeJson(bytes: Uint8Array, code: ErrorCode = "protocol_error", what = "payload"): unknown {
  const text = decodeUtf8(bytes, code);
  return parseJson(text, code, what);
}

/** `decodeJson` for text already decoded. */
export function parseJson(text: string, code: ErrorCode = "protocol_error", what = "payload"): unknown {
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw tooDeep(code, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const message = text.length === 0 ? `${subject(what, "is")} empty` : `${subject(what, "is")} not valid JSON: ${reason}`;
    throw new FunkerError(code, message, { cause: error, mayHaveRun: false });
  }
  if (mayHavePrototypeKeys(text)) refusePrototypeKeys(value, code, what);
  return value;
}

/** The same error on both sides: an encoder refuses what the receiver would. */
function tooDeep(code: ErrorCode, what: string): FunkerError {
  return new FunkerError(code, `${subject(what, "is")} nested more than ${MAX_JSON_DEPTH} arrays or objects deep, the limit`, {
    mayHaveRun: false,
    data: { limit: MAX_JSON_DEPTH },
  });
}

/**
 * Refuses a JSON text that `parseJson` would refuse for its keys, so that an
 * encoder refuses before sending what the receiver would refuse on arrival.
 * The text must be valid JSON (one that `JSON.stringify` wrote).
 */
export function refusePrototypeKeysInText(text: string, code: ErrorCode, what: string): void {
  if (mayHavePrototypeKeys(text)) refusePrototypeKeys(JSON.parse(text), code, what);
}

/**
 * Cheap pre-check: only texts that spell a dangerous key pay for the scan.
 * A \uXXXX escape can spell any letter of one ("\u005f_proto__"), so a text
 * with escapes is scanned too.
 */
function mayHavePrototypeKeys(text: string): boolean {
  return text.includes("__proto__") || text.includes("constructor") || text.includes("\\u");
}

function refusePrototypeKeys(root: unknown, code: ErrorCode, what: string): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== "object" || node === null) continue;
    if (Array.isArray(node)) {
      for (const item of node) pending.push(item);
      continue;
    }
    if (Object.hasOwn(node, "__proto__")) {
      throw new FunkerError(code, `${subject(what, "has")} a "__proto__" key, which is refused to prevent prototype pollution`, {
        mayHaveRun: false,
      });
    }
    const constructorValue: unknown = Object.hasOwn(node, "constructor")
      ? (node as Record<string, unknown>)["constructor"]
      : undefined;
    if (typeof constructorValue === "object" && constructorValue !== null && Object.hasOwn(constructorValue, "prototype")) {
      throw new FunkerError(
        code,
        `${subject(what, "has")} a "constructor.prototype" key, which is refused to prevent prototype pollution`,
        { mayHaveRun: false },
      );
    }
    for (const key in node) pending.push((node as Record<string, unknown>)[key]);
  }
}
