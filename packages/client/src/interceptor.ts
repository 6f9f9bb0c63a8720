import type { CallProtocol, RetryPolicy } from "./options.js";

/** What an interceptor receives: the call as the client would have sent it. */
export interface InterceptedCall {
  readonly name: string;
  /** The arguments (`{}` when the caller gave none), already checked to be JSON. */
  readonly args: unknown;
  /** Epoch ms. */
  readonly deadline: number;
  readonly options: {
    readonly metadata: Readonly<Record<string, string>> | undefined;
    readonly idempotent: boolean;
    readonly protocol: CallProtocol;
    readonly traceparent: string | undefined;
    readonly tracestate: string | undefined;
    readonly signal: AbortSignal | undefined;
    readonly timeout: number;
    readonly retry: RetryPolicy;
  };
}

/** Answers intercepted calls: resolves with the result, or rejects (a `FunkerError` for failures). */
export type CallInterceptor = (call: InterceptedCall) => Promise<unknown>;

/**
 * Kept on a global symbol rather than in a module variable, so that two
 * copies of this package in one process (a test harness and the app it tests
 * resolving different versions) still share one interceptor.
 */
const INTERCEPTOR_KEY = Symbol.for("funker.client.interceptor");

type InterceptorHolder = Record<symbol, CallInterceptor | undefined>;

export function currentInterceptor(): CallInterceptor | undefined {
  return (globalThis as unknown as InterceptorHolder)[INTERCEPTOR_KEY];
}

export function setInterceptor(interceptor: CallInterceptor | undefined): void {
  (globalThis as unknown as InterceptorHolder)[INTERCEPTOR_KEY] = interceptor;
}
