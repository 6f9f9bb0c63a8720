import { FunkerError, errorCodeInfo } from "@funker/protocol";
import { causeToWire, checkPayloadSize, encodeUtf8, stringifyJson, thrownToWireError } from "@funker/protocol/internal";
import type { WireError } from "@funker/protocol";
import type { CallControl, CallDescription, HandlerContext } from "./context.js";
import { createContext } from "./context.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

/** Any function `handler()` accepts, with its types erased. */
export type AnyHandlerFunction = (args: never, context: never) => unknown;

/**
 * Runs the function and settles with its result, whichever way it delivers it:
 * - a returned thenable, or any returned value other than `undefined`, is the
 *   result (a callback call is then ignored);
 * - `undefined` returned by a function that declares two or more parameters
 *   means "I will call the callback": wait for it, until the call is aborted;
 * - `undefined` returned by a function of fewer parameters is the result `null`.
 * A callback called synchronously before `undefined` is returned is the result.
 * Rejects with what the function threw, or with the reason of the call's abort.
 *
 * `onBodyEnd` is told once when the function's own work is over, which an
 * abort does not hasten: when it returned or threw, when its thenable
 * settled, or (callback style) when it called back. Until then the call
 * holds its slot.
 */
export function invoke(fn: AnyHandlerFunction, args: unknown, call: CallDescription, control: CallControl, onBodyEnd: () => void): Promise<unknown> {
  let bodyEnded = false;
  const endBody = (): void => {
    if (bodyEnded) return;
    bodyEnded = true;
    onBodyEnd();
  };
  return new Promise((resolve, reject) => {
    // 0: the function is running; 1: waiting for the callback; 2: settled.
    let phase = 0;
    let calledBack = false;
    let callbackResult: unknown;
    let waitsForCallback = false;
    const onAbort = (reason: unknown): void => {
      phase = 2;
      reject(reason);
    };
    const context = createContext(call, control, (result) => {
      if (phase === 0 && !calledBack) {
        calledBack = true;
        callbackResult = result;
      } else if (phase === 1) {
        phase = 2;
        control.onAbort = undefined;
        resolve(result);
      }
      // A callback-style function's work is over when it calls back, even after its call was aborted.
      if (waitsForCallback) endBody();
    });
    control.onAbort = onAbort;
    let returned: unknown;
    try {
      returned = (fn as unknown as (args: unknown, context: HandlerContext) => unknown)(args, context);
    } catch (error) {
      endBody();
      phase = 2;
      control.onAbort = undefined;
      reject(error);
      return;
    }
    if (isThenable(returned)) {
      phase = 2;
      // The abort listener stays: a promise that never settles still ends at the deadline.
      returned.then(
        (value) => {
          endBody();
          resolve(value);
        },
        (error: unknown) => {
          endBody();
          reject(error);
        },
      );
      return;
    }
    if (returned !== undefined || calledBack || fn.length < 2) {
      endBody();
      if (phase === 2) return;
      phase = 2;
      control.onAbort = undefined;
      resolve(returned !== undefined ? returned : calledBack ? callbackResult : null);
      return;
    }
    waitsForCallback = true;
    if (phase !== 2) phase = 1;
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Validates arguments with a Standard Schema; invalid ones become
 * `bad_arguments` carrying the issues (as plain JSON: paths of keys).
 */
export async function validateArguments(schema: StandardSchemaV1, args: unknown): Promise<unknown> {
  let result = schema["~standard"].validate(args);
  if (result instanceof Promise) result = await result;
  if (result.issues === undefined) return result.value;
  const issues = result.issues.map((issue) => {
    const plain: { message: string; path?: (string | number)[] } = { message: String(issue.message) };
    if (issue.path !== undefined) plain.path = issue.path.map((segment) => pathKey(typeof segment === "object" ? segment.key : segment));
    return plain;
  });
  const first = issues[0];
  const where = first?.path !== undefined && first.path.length > 0 ? ` at ${first.path.join(".")}` : "";
  throw new FunkerError(
    "bad_arguments",
    `the arguments do not match the function's schema: ${first?.message ?? "invalid"}${where}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ""}`,
    { data: { issues } },
  );
}

function pathKey(key: PropertyKey): string | number {
  return typeof key === "symbol" ? String(key) : key;
}

/**
 * What a caller receives for something the function threw: a `FunkerError`
 * keeps its code (a function may refuse its arguments itself); anything else
 * is `handler_error` (see `thrownToWireError`).
 */
export function thrownToWire(thrown: unknown, exposeStacks: boolean): WireError {
  if (thrown instanceof FunkerError) {
    if (!errorCodeInfo[thrown.code].undelivered) return thrown.toWire(exposeStacks);
    // A function that lets the `unavailable` or `connection_failed` of one of
    // its own calls escape must not tell its caller "nothing ran": its own
    // work has run. It becomes a handler_error, with the original as the cause.
    const wire: WireError = { code: "handler_error", name: thrown.remoteName ?? thrown.name, message: thrown.message };
    const cause = causeToWire(thrown, exposeStacks, 1);
    if (cause !== undefined) wire.cause = cause;
    return wire;
  }
  return thrownToWireError("handler_error", thrown, exposeStacks);
}

/**
 * A function's result as JSON, at most `maxPayloadBytes` of it (refused
 * with `payload_too_large` as soon as it is known to be longer). A result
 * JSON cannot carry (NaN, a BigInt, a cycle) is the function's fault, not
 * its caller's: `handler_error`, whose cause is the encoder's `bad_result`
 * naming what could not be encoded.
 */
export function encodeFunctionResult(value: unknown, maxPayloadBytes = Number.POSITIVE_INFINITY): Uint8Array {
  let text: string;
  try {
    text = stringifyJson(value, "result", maxPayloadBytes);
  } catch (error) {
    if (error instanceof FunkerError && error.code === "payload_too_large") throw error;
    throw new FunkerError("handler_error", error instanceof Error ? error.message : String(error), { cause: error });
  }
  const bytes = encodeUtf8(text);
  checkPayloadSize(bytes.length, maxPayloadBytes, "result");
  return bytes;
}
