/*
 * Whether JSON carries a value faithfully, with no error type of its own:
 * both the JSON codec and the error class (which checks an error's data
 * before sending it) read it, so it imports neither.
 */

/**
 * The JSON text of `value`, or undefined where JSON.stringify gives none (a
 * function or a symbol at the top level). Throws a `LossyValue` for what
 * JSON would drop or change (BigInt, functions and symbols inside, Map,
 * Set, NaN, ±Infinity), a TypeError for a cycle and a RangeError for
 * nesting deeper than V8's stack.
 */
export function stringifyFaithfully(value: unknown): string | undefined {
  // Values JSON carries as they are (the usual case) skip the replacer, which
  // costs a call from C++ into JavaScript per key.
  if (isPlainJson(value, 0)) return JSON.stringify(value);
  return JSON.stringify(value, rejectLossyValues);
}

/** Deeper values take the replacer's path, which also reports cycles. */
const PLAIN_JSON_DEPTH = 64;

/**
 * True when plain `JSON.stringify` gives exactly what the replacer would
 * accept: strings, booleans, null, finite numbers, and arrays and plain
 * objects (no `toJSON`) of those. Anything else, including whatever the
 * replacer refuses, answers false and goes through the replacer.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (depth >= PLAIN_JSON_DEPTH) return false;
      const prototype: unknown = Object.getPrototypeOf(value);
      if (prototype === Array.prototype) {
        const items = value as unknown[];
        for (let index = 0; index < items.length; index += 1) {
          if (!isPlainJson(items[index], depth + 1)) return false;
        }
        return true;
      }
      if (prototype !== Object.prototype && prototype !== null) return false;
      const fields = value as Record<string, unknown>;
      if (fields["toJSON"] !== undefined) return false;
      for (const key in fields) {
        if (!isPlainJson(fields[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/** A value JSON would silently drop or change, found under `key` ("" at the top). */
export class LossyValue extends Error {
  constructor(
    readonly key: string,
    readonly what: string,
  ) {
    super(`${key === "" ? "the top-level value" : `the value at key ${JSON.stringify(key)}`} is ${what}`);
  }
}

function rejectLossyValues(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case "function":
    case "symbol":
      throw new LossyValue(key, `a ${typeof value}`);
    case "bigint":
      // Caught here rather than by JSON.stringify, whose TypeError does not say where the BigInt is.
      throw new LossyValue(key, "a BigInt");
    case "number":
      if (!Number.isFinite(value)) throw new LossyValue(key, String(value));
      return value;
    case "object":
      if (value instanceof Map || value instanceof Set) throw new LossyValue(key, `a ${value.constructor.name}`);
      return value;
    default:
      return value;
  }
}
