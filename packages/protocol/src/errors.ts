import { stringifyFaithfully } from "./json-faithful.js";

/**
 * The closed set of error codes that Funker's handler and client share.
 *
 * Codes are stable strings: they travel on the wire, appear in logs and are
 * matched by callers' code, so a code is never renamed or reused. New codes
 * may be added in a minor version; an unknown code received from a peer is
 * read as `internal`.
 */
export const errorCodes = [
  "not_found",
  "unavailable",
  "connection_failed",
  "deadline_exceeded",
  "cancelled",
  "protocol_error",
  "payload_too_large",
  "bad_arguments",
  "bad_result",
  "unauthenticated",
  "handler_error",
  "handler_crashed",
  "internal",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/**
 * When a call that failed with a code may be tried again:
 * - `"always"`: the call certainly did not reach the function, so another
 *   attempt cannot run it twice;
 * - `"if-idempotent"`: the function may have started; only a caller who marked
 *   the call idempotent may try again;
 * - `"never"`: another attempt cannot succeed (or there is no time left for it).
 */
export type RetryRule = "always" | "if-idempotent" | "never";

export interface ErrorCodeInfo {
  /** One line for people: what happened. */
  readonly description: string;
  /**
   * Whether the code means that no replica took the call at all. A function
   * that ran cannot pass such an error on to its own caller as it is (a call
   * it made failed this way): its caller would read "nothing ran".
   */
  readonly undelivered: boolean;
  /** Whether the function may have run when a call fails with this code. */
  readonly mayHaveRun: boolean;
  readonly retry: RetryRule;
}

/**
 * What each code means for a caller. The client's retry loop consults this
 * table and nothing else, so retry behaviour is data, reviewed in one place.
 */
export const errorCodeInfo: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  not_found: {
    description: "no function by that name is reachable, or the replica serves another function",
    undelivered: false,
    mayHaveRun: false,
    retry: "never",
  },
  unavailable: {
    description: "every replica was busy or starting; the call was not delivered",
    undelivered: true,
    mayHaveRun: false,
    retry: "always",
  },
  connection_failed: {
    description: "no connection could be made to deliver the call",
    undelivered: true,
    mayHaveRun: false,
    retry: "always",
  },
  deadline_exceeded: {
    description: "the call's deadline passed before a reply arrived",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
  cancelled: {
    description: "the caller cancelled the call",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
  protocol_error: {
    description: "a peer sent bytes that do not follow the Funker protocol",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
  payload_too_large: {
    description: "the arguments or the result exceed the size limit",
    undelivered: false,
    mayHaveRun: false,
    retry: "never",
  },
  bad_arguments: {
    description: "the arguments are not valid JSON or do not match the function's schema",
    undelivered: false,
    mayHaveRun: false,
    retry: "never",
  },
  bad_result: {
    description: "the function's result is not valid JSON (NaN, a BigInt, a cycle), so it cannot be sent",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
  unauthenticated: {
    description: "the call's credentials are missing or wrong",
    undelivered: false,
    mayHaveRun: false,
    retry: "never",
  },
  handler_error: {
    description: "the function threw or rejected",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
  handler_crashed: {
    description: "the replica died or went silent during the call",
    undelivered: false,
    mayHaveRun: true,
    retry: "if-idempotent",
  },
  internal: {
    description: "an unexpected failure inside Funker",
    undelivered: false,
    mayHaveRun: true,
    retry: "never",
  },
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(errorCodeInfo, value);
}

/** The wire shape of an error's cause: an error the handler caught, as data. */
export interface WireErrorCause {
  name: string;
  message: string;
  code?: string;
  data?: unknown;
  stack?: string;
  cause?: WireErrorCause;
}

/**
 * The wire shape of an error (the body of an error frame, and of a legacy
 * error reply). Kept apart from the class so that other implementations need
 * only this.
 */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** The name of the error the function threw (`TypeError`, `ValidationError`, …). */
  name?: string;
  data?: unknown;
  stack?: string;
  cause?: WireErrorCause;
}

export interface FunkerErrorOptions {
  cause?: unknown;
  data?: unknown;
  /** Overrides the code's default, when the failing step is known. */
  mayHaveRun?: boolean;
  /** The name of the remote error (for errors rebuilt from the wire). */
  remoteName?: string;
  /** The remote stack, when the handler chose to send it. */
  remoteStack?: string;
  /** True when the error was sent by a handler rather than raised locally. */
  remote?: boolean;
}

/** How many causes are carried on the wire; deeper chains are cut, since a cycle is possible. */
export const MAX_CAUSE_DEPTH = 8;

/**
 * The one error class of Funker. Every failure a caller or a handler sees is a
 * `FunkerError` with a stable `code`; `mayHaveRun` and `retryable` tell the
 * caller what the failure means for the call.
 */
export class FunkerError extends Error {
  override readonly name = "FunkerError";
  readonly code: ErrorCode;
  readonly data: unknown;
  /** Whether the function may have run (in part) before this failure. */
  readonly mayHaveRun: boolean;
  /** True when a handler sent this error; false when it was raised on this side. */
  readonly remote: boolean;
  /** The name of the error the function threw, when `remote`. */
  readonly remoteName: string | undefined;
  readonly remoteStack: string | undefined;

  constructor(code: ErrorCode, message: string, options: FunkerErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.data = options.data;
    this.mayHaveRun = options.mayHaveRun ?? errorCodeInfo[code].mayHaveRun;
    this.remote = options.remote ?? false;
    this.remoteName = options.remoteName;
    this.remoteStack = options.remoteStack;
  }

  /** The retry rule of this error's code. */
  get retry(): RetryRule {
    return errorCodeInfo[this.code].retry;
  }

  /**
   * Turns anything thrown into a `FunkerError`: a `FunkerError` is returned
   * as it is, anything else is wrapped with `code` and kept as `cause`.
   */
  static from(value: unknown, code: ErrorCode = "internal"): FunkerError {
    if (value instanceof FunkerError) return value;
    if (value instanceof Error) return new FunkerError(code, value.message, { cause: value });
    return new FunkerError(code, describeThrown(value), { cause: value });
  }

  /**
   * Rebuilds an error that a handler sent. `mayHaveRun` overrides the code's
   * default when the caller knows better (a framed caller knows from the
   * error frame's `refused` whether the function started).
   */
  static fromWire(wire: WireError, known: { mayHaveRun?: boolean } = {}): FunkerError {
    const options: FunkerErrorOptions = { remote: true, data: wire.data };
    if (known.mayHaveRun !== undefined) options.mayHaveRun = known.mayHaveRun;
    if (wire.name !== undefined) options.remoteName = wire.name;
    if (wire.stack !== undefined) options.remoteStack = wire.stack;
    if (wire.cause !== undefined) options.cause = causeFromWire(wire.cause);
    return new FunkerError(wire.code, wire.message, options);
  }

  /** The wire shape of this error. Stacks are sent only when `includeStack` is set. */
  toWire(includeStack = false): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    wire.name = this.remoteName ?? this.name;
    if (this.data !== undefined) wire.data = this.data;
    if (includeStack && this.stack !== undefined) wire.stack = this.remoteStack ?? this.stack;
    const cause = causeToWire(this.cause, includeStack, 1);
    if (cause !== undefined) wire.cause = cause;
    return wire;
  }
}

/** A readable message for a thrown value that is not an `Error`. */
export function describeThrown(value: unknown): string {
  if (value === undefined) return "the function threw undefined";
  if (value === null) return "the function threw null";
  if (typeof value === "string") return value;
  try {
    return `the function threw a ${typeof value}: ${JSON.stringify(value) ?? String(value)}`;
  } catch {
    return `the function threw a ${typeof value}`;
  }
}

/** The `name` Lambda would report for a thrown value: the error's name, or its JS type. */
export function thrownName(value: unknown): string {
  if (value instanceof Error) return value.name;
  if (value === null) return "null";
  return typeof value;
}

/**
 * Something a function threw, as the error body a caller receives under
 * `code`: named after the thrown error, or after its JS type for a thrown
 * non-Error (as Lambda reports it), with the error's data when JSON can
 * carry it, its stack when `includeStack` is set, and its causes.
 */
export function thrownToWireError(code: ErrorCode, thrown: unknown, includeStack: boolean): WireError {
  const wire: WireError = { code, name: thrownName(thrown), message: thrownMessage(thrown) };
  if (thrown instanceof Error) addErrorDetails(wire, thrown, includeStack, 0);
  return wire;
}

/**
 * An error the handler caught, turned into wire data (with its own causes),
 * `depth` causes below the error sent; a chain deeper than `MAX_CAUSE_DEPTH`
 * is cut there.
 */
export function causeToWire(value: unknown, includeStack: boolean, depth = 0): WireErrorCause | undefined {
  if (value === undefined || depth > MAX_CAUSE_DEPTH) return undefined;
  const wire: WireErrorCause = { name: thrownName(value), message: thrownMessage(value) };
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    if (typeof code === "string") wire.code = code;
    addErrorDetails(wire, value, includeStack, depth);
  }
  return wire;
}

function thrownMessage(value: unknown): string {
  return value instanceof Error ? value.message : describeThrown(value);
}

/** What an error adds to its wire form at `depth`, for the error sent and for each of its causes alike. */
function addErrorDetails(wire: WireError | WireErrorCause, error: Error, includeStack: boolean, depth: number): void {
  const data = (error as { data?: unknown }).data;
  if (data !== undefined && isJsonSafe(data)) wire.data = data;
  if (includeStack && error.stack !== undefined) wire.stack = error.stack;
  const inner = causeToWire(error.cause, includeStack, depth + 1);
  if (inner !== undefined) wire.cause = inner;
}

/** A remote cause, rebuilt as an `Error` whose name is the remote name. */
function causeFromWire(wire: WireErrorCause): Error {
  const error = new Error(wire.message, wire.cause === undefined ? undefined : { cause: causeFromWire(wire.cause) });
  error.name = wire.name;
  if (wire.code !== undefined) (error as Error & { code?: string }).code = wire.code;
  if (wire.data !== undefined) (error as Error & { data?: unknown }).data = wire.data;
  error.stack = wire.stack ?? `${wire.name}: ${wire.message}`;
  return error;
}

/**
 * Whether the error body's encoder will take `value`: the same check, so
 * data it would refuse (a BigInt, NaN, a Map) is left out of its own error
 * alone instead of costing the body every other detail (see `encodeErrorBody`).
 */
function isJsonSafe(value: unknown): boolean {
  try {
    return stringifyFaithfully(value) !== undefined;
  } catch {
    return false;
  }
}
