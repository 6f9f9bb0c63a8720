/*
 * Whether JSON carries a value faithfully, with no error type of its own:
 * both the JSON codec and the error class (which checks an error's data
 * before sending it) read it, so it imports neither.
 */
import { MAX_JSON_DEPTH, nestsDeeperThan } from "./json-depth.js";

/**
 * The JSON text of `value`, or undefined where JSON.stringify gives none (a
 * function or a symbol at the top level). Throws a `LossyValue` for what
 * JSON would drop or change (BigInt, functions and symbols inside, Map,
 * Set, NaN, ±Infinity), a TypeError for a cycle, a RangeError for
 * nesting deeper than V8's stack and a `NestedTooDeep` for nesting deeper
 * than a receiver reads.
 *
 * With `maxBytes`, throws an `OverBudget` as soon as the text is known to be
 * longer than that, before the text is built: refusing 50 MiB against a
 * limit of 8 MiB then costs a walk over the first 8 MiB of strings, not the
 * second or so of building a text of 50.
 */
export function stringifyFaithfully(value: unknown, maxBytes = Number.POSITIVE_INFINITY): string | undefined {
  // Values JSON carries as they are (the usual case) skip the replacer, which
  // costs a call from C++ into JavaScript per key.
  budgetLeft = maxBytes;
  if (isPlainJson(value, 0)) return JSON.stringify(value);
  if (budgetLeft < 0) throw new OverBudget(maxBytes - budgetLeft);
  budgetLeft = maxBytes;
  const text = JSON.stringify(value, rejectLossyValuesWithin(maxBytes));
  // Plain values were walked PLAIN_JSON_DEPTH deep at most; only these can nest deeper than a receiver reads.
  if (text !== undefined && nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new NestedTooDeep();
  return text;
}

/** The text nests deeper than `MAX_JSON_DEPTH`, which a receiver refuses. */
export class NestedTooDeep extends Error {
  constructor() {
    super(`the JSON text nests more than ${MAX_JSON_DEPTH} deep`);
  }
}

/** The text was known to exceed the budget after `atLeast` bytes (a lower bound of its UTF-8 length). */
export class OverBudget extends Error {
  constructor(readonly atLeast: number) {
    super(`the JSON text is at least ${atLeast} bytes`);
  }
}

/**
 * Bytes the text may still take. Each walk below subtracts a lower bound of
 * what a value will take in UTF-8: a string at least its UTF-16 length plus
 * its quotes (no code unit takes fewer than one byte), a key that and its
 * colon, anything else at least one byte. The walks are synchronous, so one
 * variable serves every call.
 */
let budgetLeft = Number.POSITIVE_INFINITY;

/** Deeper values take the replacer's path, which also reports cycles. */
const PLAIN_JSON_DEPTH = 64;

/**
 * True when plain `JSON.stringify` gives exactly what the replacer would
 * accept: strings, booleans, null, finite numbers, and arrays and plain
 * objects (no `toJSON`) of those. Anything else, including whatever the
 * replacer refuses, answers false and goes through the replacer. Also false,
 * with `budgetLeft` below zero, once the text is known to exceed the budget.
 */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
      budgetLeft -= value.length + 2;
      return budgetLeft >= 0;
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
        budgetLeft -= items.length;
        for (let index = 0; index < items.length; index += 1) {
          if (!isPlainJson(items[index], depth + 1)) return false;
        }
        return budgetLeft >= 0;
      }
      if (prototype !== Object.prototype && prototype !== null) return false;
      const fields = value as Record<string, unknown>;
      if (fields["toJSON"] !== undefined) return false;
      for (const key in fields) {
        const field = fields[key];
        // A key whose value is undefined is not written.
        if (field !== undefined) budgetLeft -= key.length + 3;
        if (!isPlainJson(field, depth + 1)) return false;
      }
      return budgetLeft >= 0;
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

/** The replacer of the values `isPlainJson` leaves out: refuses lossy values, and stops once over `maxBytes`. */
function rejectLossyValuesWithin(maxBytes: number): (this: unknown, key: string, value: unknown) => unknown {
  return function rejectLossyValues(this: unknown, key: string, value: unknown): unknown {
    // Array indices are not written, nor keys whose value is undefined (the top level's "" adds nothing).
    if (value !== undefined) {
      budgetLeft -= (typeof value === "string" ? value.length + 2 : 1) + (Array.isArray(this) ? 0 : key.length);
      if (budgetLeft < 0) throw new OverBudget(maxBytes - budgetLeft);
    }
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
  };
}
