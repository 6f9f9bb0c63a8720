import { FunkerError } from "@funker/protocol";
import { ClientCore } from "./client.js";
import type { CallOptions, ClientOptions } from "./options.js";

/** A client's end of life, shared by typed and untyped clients. */
export interface ClientLifecycle {
  /** Closes the idle kept connections; calls after this fail with `cancelled`. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A client without a function map: any name, any arguments, a result of the type the caller states. */
export interface Client extends ClientLifecycle {
  call<Result = unknown>(name: string, args?: unknown, options?: CallOptions): Promise<Result>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` parameters make every function type assignable here.
type AnyFunction = (args: any) => unknown;

/**
 * A map of function names to signatures: what each function takes and
 * returns, e.g. `{ add: (args: { x: number; y: number }) => number }`.
 */
export type FunctionMap<F> = { [Name in keyof F]: AnyFunction };

type ParametersOf<Fn> = Fn extends (...args: infer Params) => unknown ? Params : never;

/**
 * The arguments and options of `call` for one function: arguments are
 * required when the function requires them, optional when it takes none or
 * optional ones (omitted arguments are sent as `{}`).
 */
export type CallArguments<Fn> =
  ParametersOf<Fn> extends []
    ? [args?: Record<string, never>, options?: CallOptions]
    : ParametersOf<Fn> extends [infer Args]
      ? [args: Args, options?: CallOptions]
      : ParametersOf<Fn> extends [(infer Args)?]
        ? [args?: Args, options?: CallOptions]
        : never;

/** What a call to the function resolves to: its return value, awaited. */
export type CallResult<Fn> = Fn extends (...args: never) => infer Result ? Awaited<Result> : never;

/** A client whose `call` checks names, arguments and results against a function map at compile time. */
export interface TypedClient<F extends FunctionMap<F>> extends ClientLifecycle {
  call<Name extends keyof F & string>(name: Name, ...rest: CallArguments<F[Name]>): Promise<CallResult<F[Name]>>;
}

/** `createClient()`'s result: untyped without a function map, typed with one. */
export type ClientFor<F> = [F] extends [never] ? Client : F extends FunctionMap<F> ? TypedClient<F> : never;

/** Anything that can stand in for the default client (a fake in tests, a configured client in apps). */
export interface CallTarget {
  call(name: string, args?: unknown, options?: CallOptions): Promise<unknown>;
}

/**
 * Creates a client with shared settings (endpoints, port, timeouts, retry
 * policy, protocol, metadata) and its own pool of kept connections. Give it
 * a function map to have every call type-checked:
 * `createClient<{ add: (args: { x: number; y: number }) => number }>()`.
 */
export function createClient<F = never>(options: ClientOptions = {}): ClientFor<F> {
  const core = new ClientCore(options);
  const client: Client = {
    call: async function call(name, args, callOptions) {
      try {
        return (await core.call(name, args, callOptions)) as never;
      } catch (error) {
        throw fromCaller(error, call);
      }
    },
    close: () => core.close(),
    [Symbol.asyncDispose]: () => core.close(),
  };
  return client as ClientFor<F>;
}

let defaultClient: CallTarget | undefined;
let replacement: CallTarget | undefined;

/**
 * Replaces the client behind `call`, for apps that configure one client for
 * the whole process. Returns a function that puts the previous one back.
 */
export function setDefaultClient(client: CallTarget): () => void {
  const previous = replacement;
  replacement = client;
  return () => {
    replacement = previous;
  };
}

/**
 * Calls a function by name, anywhere on the network: `await call("add", { x: 1, y: 2 })`.
 * Uses the default client (configured by `FUNKER_ENDPOINTS`, or replaced with
 * `setDefaultClient`). Rejects with a `FunkerError` whose `code` and
 * `mayHaveRun` say what happened.
 */
export async function call<Result = unknown>(name: string, args?: unknown, options?: CallOptions): Promise<Result> {
  const target = replacement ?? (defaultClient ??= createClient());
  try {
    return (await target.call(name, args, options)) as Result;
  } catch (error) {
    throw fromCaller(error, call);
  }
}

/**
 * A `FunkerError` is raised in a socket's callback, whose stack is the
 * client's own internals and holds no line of the app. Captured again here,
 * after the `await` above resumed, it holds V8's async frames instead: the
 * app's `await call(…)` and the async functions that awaited it, so an
 * uncaught failure points at the app. Only a failure pays for it: recording
 * the caller's stack on every call would cost more than the rest of a kept
 * call's client work. The function's own stack stays in `remoteStack`.
 */
function fromCaller(error: unknown, entry: (...args: never[]) => unknown): unknown {
  if (error instanceof FunkerError) Error.captureStackTrace(error, entry);
  return error;
}
