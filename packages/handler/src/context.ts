import type { WireMode } from "@funker/protocol";

/**
 * What a function learns about the call it serves. The signal is the one to
 * pass on to `fetch`, database drivers and child calls, so that work stops
 * when nobody waits for it any more.
 */
export interface CallInfo {
  /** Fires at the deadline, when the caller cancels, or when the caller disconnects; `reason` is a `FunkerError`. */
  readonly signal: AbortSignal;
  /** The absolute deadline, ms since the Unix epoch: the caller's deadline or accept time + timeout, whichever is first. */
  readonly deadline: number;
  /** Milliseconds left until the deadline (0 once it has passed). */
  remainingMs(): number;
  /** The caller's call id; legacy callers have none, so the handler makes one up (for logs). */
  readonly id: string;
  /** The function name the caller asked for; undefined for legacy callers, who do not say. */
  readonly functionName: string | undefined;
  /** `"framed"` for Funker callers, `"legacy"` for 2017 callers. */
  readonly protocol: WireMode;
  /** W3C trace context sent by a framed caller. */
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** Caller metadata (empty for legacy callers). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * The second argument of a function: the call's information, and also a
 * function. Calling it delivers the result, exactly as the 2017 callback did
 * (`callback(result)`: the result is the first and only argument), so the
 * 2017 functions run unchanged.
 */
export interface HandlerContext<Result = unknown> extends CallInfo {
  (result: CallbackResult<Result>): void;
}

/** A function that returns nothing (2017 callback style) may call back with any value. */
export type CallbackResult<Result> = [Result] extends [void] ? unknown : Result;

/** The fields a connection knows about a call, before the function runs. */
export interface CallDescription {
  id: string;
  functionName: string | undefined;
  protocol: WireMode;
  deadline: number;
  traceparent: string | undefined;
  tracestate: string | undefined;
  metadata: Readonly<Record<string, string>>;
}

const noMetadata: Readonly<Record<string, string>> = Object.freeze(Object.create(null) as Record<string, string>);

/**
 * A call's cancellation. Most functions never look at their signal, and an
 * `AbortController` with its listeners costs more than the rest of a small
 * call, so the signal is made only when the function first reads it (already
 * aborted, with its reason, if the call was). The runner is told directly,
 * so the deadline, a cancel or a disconnect still ends the call for the
 * caller whether or not the signal was ever made.
 */
export class CallControl {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private isAborted = false;
  /** Told once, at the first abort: the runner waiting for the function. */
  onAbort: ((reason: unknown) => void) | undefined;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.isAborted;
  }

  /** Undefined until the call is aborted. */
  get reason(): unknown {
    return this.abortReason;
  }

  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const onAbort = this.onAbort;
    this.onAbort = undefined;
    onAbort?.(reason);
  }
}

const CONTROL = Symbol("funker.callControl");

/**
 * The lazy `signal` getter lives on a prototype shared by every context:
 * defining an accessor on each context costs over a microsecond, setting a
 * prototype a fraction of that. The prototype inherits from
 * `Function.prototype`, so a context is still a plain callable function.
 */
const contextPrototype: object = Object.create(Function.prototype, {
  signal: {
    get(this: Record<symbol, CallControl>): AbortSignal {
      return (this[CONTROL] as CallControl).signal;
    },
    enumerable: true,
  },
});

/** Builds the callable context; `deliver` receives every call of the callback. */
export function createContext(call: CallDescription, control: CallControl, deliver: (result: unknown) => void): HandlerContext {
  const context = ((result: unknown) => deliver(result)) as unknown as Record<string | symbol, unknown>;
  const deadline = call.deadline;
  Object.setPrototypeOf(context, contextPrototype);
  context[CONTROL] = control;
  context["deadline"] = deadline;
  context["remainingMs"] = () => Math.max(0, deadline - Date.now());
  context["id"] = call.id;
  context["functionName"] = call.functionName;
  context["protocol"] = call.protocol;
  context["traceparent"] = call.traceparent;
  context["tracestate"] = call.tracestate;
  context["metadata"] = call.metadata;
  return context as unknown as HandlerContext;
}

export { noMetadata };
