import type { FunctionMap as ClientFunctionMap } from "@funker/client";
import type { InterceptedCall } from "@funker/client/internal";
import { installInterceptor } from "@funker/client/internal";
import type { CallInfo } from "@funker/handler";
import { thrownToWire } from "@funker/handler/internal";
import { FunkerError, decodeJson, encodeJson } from "@funker/protocol";
import type { ErrorCode } from "@funker/protocol";

/** The map of an untyped fake: any name, any arguments. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- `any` is what lets every signature fit an untyped map.
export type UntypedFunctions = Record<string, (args: any) => unknown>;

/** A map from function name to its signature, the same map `createClient<Functions>()` takes. */
export type FunctionMap<Functions = UntypedFunctions> = ClientFunctionMap<Functions>;

/** A fake function: the real function's own signature (`args`, then the call's information). */
export type FakeImplementation<Args = never, Result = unknown> = (args: Args, context: CallInfo) => Result | PromiseLike<Result>;

export type FakeImplementations<Functions extends FunctionMap<Functions>> = {
  [Name in keyof Functions]?: FakeImplementation<Parameters<Functions[Name]>[0], Awaited<ReturnType<Functions[Name]>>>;
};

/** One call the app made, as the fake received it. */
export interface RecordedCall {
  readonly name: string;
  /** The arguments after a JSON round trip: exactly what a real function would receive. */
  readonly args: unknown;
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute deadline, ms since the Unix epoch. */
  readonly deadline: number;
  readonly idempotent: boolean;
  readonly protocol: "framed" | "legacy";
  readonly traceparent: string | undefined;
  /** How many times the call reached the function (0 when it never did, e.g. every attempt was busy). */
  deliveries: number;
  /** How it ended, once it has: `{ ok: true, value }` or `{ ok: false, error }`. */
  outcome: { ok: true; value: unknown } | { ok: false; error: FunkerError } | undefined;
}

/** A scripted behaviour for the next calls of one function. */
type Script =
  | { kind: "fail"; error: () => FunkerError; remaining: number }
  | { kind: "busy"; remaining: number }
  | { kind: "slow"; delayMs: number; remaining: number }
  | { kind: "crash"; remaining: number };

export interface FakeFunctionsOptions {
  /**
   * Back-off between busy answers, in ms, as the real client's first
   * back-off ceiling. Default 5. Waits use `setTimeout`, so fake timers
   * (vitest, jest, @sinonjs) control them.
   */
  busyBackoffMs?: number;
}

/**
 * Functions in memory, standing in for the network: while installed, every
 * `call` of `@funker/client` (the default client and every client made by
 * `createClient`) reaches these implementations instead of a socket. Calls are
 * recorded for assertions; failures, busy replicas, slowness and crashes can
 * be scripted. Call `restore()` (or let `using` do it) to put the real client
 * back.
 */
export interface FakeFunctions<Functions extends FunctionMap<Functions> = UntypedFunctions> extends Disposable {
  /** Every call, in the order they were made. */
  readonly calls: readonly RecordedCall[];
  /** The calls to one function. */
  callsTo(name: keyof Functions & string): RecordedCall[];
  /** Replaces (or adds) one function's implementation. */
  set<Name extends keyof Functions & string>(name: Name, implementation: FakeImplementations<Functions>[Name]): this;
  /**
   * The next `times` calls (default 1) fail with `error`: an `ErrorCode`
   * (with a made-up message) or a `FunkerError` of your own. Codes that a
   * function sends (`handler_error`, `bad_arguments`, …) arrive as the real
   * client would deliver them: remote, with `mayHaveRun` as the code says.
   */
  fail(name: keyof Functions & string, error: ErrorCode | FunkerError, options?: { times?: number; message?: string }): this;
  /** The next `times` attempts find every replica busy; the fake backs off and tries again, as the real client does, until the deadline. */
  busy(name: keyof Functions & string, times: number): this;
  /** The next `times` calls (default 1) take `delayMs` before the function runs; the deadline and the caller's signal apply. */
  slow(name: keyof Functions & string, delayMs: number, options?: { times?: number }): this;
  /** The next `times` calls (default 1) lose their replica mid-call: `handler_crashed`, or a retry when the call is idempotent. */
  crash(name: keyof Functions & string, options?: { times?: number }): this;
  /** Forgets recorded calls and scripted behaviours. */
  reset(): void;
  /** Puts the real client back. Safe to call twice. */
  restore(): void;
}

/**
 * Installs fake functions in place of the network. Typed with the same
 * function map as `createClient<Functions>()`.
 *
 * @example
 * using fake = fakeFunctions({ add: ({ x, y }: { x: number; y: number }) => x + y });
 * expect(await call("add", { x: 1, y: 2 })).toBe(3);
 * expect(fake.callsTo("add")[0]?.args).toEqual({ x: 1, y: 2 });
 */
export function fakeFunctions<Functions extends FunctionMap<Functions> = UntypedFunctions>(
  implementations: FakeImplementations<Functions>,
  options: FakeFunctionsOptions = {},
): FakeFunctions<Functions> {
  const functions = new Map<string, FakeImplementation<never, unknown>>(
    Object.entries(implementations).filter((entry): entry is [string, FakeImplementation<never, unknown>] => typeof entry[1] === "function"),
  );
  const scripts = new Map<string, Script[]>();
  const calls: RecordedCall[] = [];
  const busyBackoffMs = options.busyBackoffMs ?? 5;
  let callCounter = 0;

  function script(name: string, entry: Script): void {
    const list = scripts.get(name) ?? [];
    list.push(entry);
    scripts.set(name, list);
  }

  /** Takes the next scripted behaviour for `name`, if any. */
  function nextScript(name: string): Script | undefined {
    const list = scripts.get(name);
    const first = list?.[0];
    if (list === undefined || first === undefined) return undefined;
    first.remaining -= 1;
    if (first.remaining <= 0) list.shift();
    return first;
  }

  async function answer(intercepted: InterceptedCall): Promise<unknown> {
    const record: RecordedCall = {
      name: intercepted.name,
      // A JSON round trip: what the real function would have received.
      args: decodeJson(encodeJson(intercepted.args, "arguments")),
      metadata: Object.freeze({ ...(intercepted.options.metadata ?? {}) }),
      deadline: intercepted.deadline,
      idempotent: intercepted.options.idempotent,
      protocol: intercepted.options.protocol,
      traceparent: intercepted.options.traceparent,
      deliveries: 0,
      outcome: undefined,
    };
    calls.push(record);
    try {
      const value = await run(intercepted, record);
      record.outcome = { ok: true, value };
      return value;
    } catch (thrown) {
      const error = FunkerError.from(thrown);
      record.outcome = { ok: false, error };
      throw error;
    }
  }

  async function run(intercepted: InterceptedCall, record: RecordedCall): Promise<unknown> {
    const { name } = intercepted;
    const signal = intercepted.options.signal;
    const deliveriesAllowed = intercepted.options.idempotent ? Math.max(1, intercepted.options.retry.maxAttempts) : 1;
    let backoffCeiling = busyBackoffMs;
    for (;;) {
      const implementation = functions.get(name);
      if (implementation === undefined) {
        throw new FunkerError("not_found", `no function named "${name}" is reachable`, { mayHaveRun: false });
      }
      const behaviour = nextScript(name);
      if (behaviour?.kind === "busy") {
        await wait(Math.random() * backoffCeiling, intercepted.deadline, signal, false);
        backoffCeiling = Math.min(backoffCeiling * 2, 1_000);
        continue;
      }
      if (behaviour?.kind === "fail") {
        const error = behaviour.error();
        if (error.mayHaveRun) record.deliveries += 1;
        throw error;
      }
      record.deliveries += 1;
      if (behaviour?.kind === "crash") {
        if (record.deliveries < deliveriesAllowed) continue;
        throw new FunkerError("handler_crashed", `the replica of "${name}" died during the call`, { mayHaveRun: true });
      }
      if (behaviour?.kind === "slow") await wait(behaviour.delayMs, intercepted.deadline, signal, true);
      return invoke(implementation, intercepted, record, (callCounter += 1));
    }
  }

  const restoreInterceptor = installInterceptor(answer);
  let restored = false;

  const fake: FakeFunctions<Functions> = {
    calls,
    callsTo: (name) => calls.filter((recorded) => recorded.name === name),
    set(name, implementation) {
      if (typeof implementation === "function") functions.set(name, implementation as FakeImplementation<never, unknown>);
      else functions.delete(name);
      return fake;
    },
    fail(name, error, failOptions = {}) {
      const make =
        typeof error === "string"
          ? () => new FunkerError(error, failOptions.message ?? `${name} failed with ${error} (fake)`, { remote: isRemoteCode(error) })
          : () => error;
      script(name, { kind: "fail", error: make, remaining: failOptions.times ?? 1 });
      return fake;
    },
    busy(name, times) {
      script(name, { kind: "busy", remaining: times });
      return fake;
    },
    slow(name, delayMs, slowOptions = {}) {
      script(name, { kind: "slow", delayMs, remaining: slowOptions.times ?? 1 });
      return fake;
    },
    crash(name, crashOptions = {}) {
      script(name, { kind: "crash", remaining: crashOptions.times ?? 1 });
      return fake;
    },
    reset() {
      calls.length = 0;
      scripts.clear();
    },
    restore() {
      if (restored) return;
      restored = true;
      restoreInterceptor();
    },
    [Symbol.dispose]() {
      fake.restore();
    },
  };
  return fake;
}

/** Codes a function itself sends; the others are raised by the client. */
function isRemoteCode(code: ErrorCode): boolean {
  return code === "handler_error" || code === "bad_arguments" || code === "unauthenticated" || code === "payload_too_large";
}

/** Runs the implementation as the handler would: deadline, signal, errors and result through the wire format. */
async function invoke(
  implementation: FakeImplementation<never, unknown>,
  intercepted: InterceptedCall,
  record: RecordedCall,
  sequence: number,
): Promise<unknown> {
  const controller = new AbortController();
  const stop = linkDeadlineAndSignal(controller, intercepted.deadline, intercepted.options.signal);
  const context: CallInfo = {
    signal: controller.signal,
    deadline: intercepted.deadline,
    remainingMs: () => Math.max(0, intercepted.deadline - Date.now()),
    id: `fake-${sequence}`,
    functionName: intercepted.name,
    protocol: intercepted.options.protocol,
    traceparent: intercepted.options.traceparent,
    tracestate: intercepted.options.tracestate,
    metadata: record.metadata,
  };
  try {
    const outcome = Promise.resolve()
      .then(() => implementation(decodeJson(encodeJson(record.args)) as never, context))
      .then(
        (value) => decodeJson(encodeJson(value, "result")),
        (thrown: unknown) => {
          // As over the wire: the handler's account of what was thrown, and
          // the function ran (the handler had accepted the call).
          throw FunkerError.fromWire(thrownToWire(thrown, false), { mayHaveRun: true });
        },
      );
    return await Promise.race([outcome, abortedPromise(controller.signal)]);
  } finally {
    stop();
  }
}

/** Aborts `controller` at the deadline or when the caller's signal fires. */
function linkDeadlineAndSignal(controller: AbortController, deadline: number, signal: AbortSignal | undefined): () => void {
  const timer = setTimeout(
    () => controller.abort(new FunkerError("deadline_exceeded", "the call's deadline passed", { mayHaveRun: true })),
    Math.max(0, deadline - Date.now()),
  );
  const onAbort = () => controller.abort(new FunkerError("cancelled", "the caller cancelled the call", { mayHaveRun: true }));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
}

function abortedPromise(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason as unknown);
    else signal.addEventListener("abort", () => reject(signal.reason as unknown), { once: true });
  });
}

/** Waits `delayMs`, failing at the deadline or on abort, as a real call would. */
function wait(delayMs: number, deadline: number, signal: AbortSignal | undefined, delivered: boolean): Promise<void> {
  const controller = new AbortController();
  return new Promise<void>((resolve, reject) => {
    const remaining = deadline - Date.now();
    const stop = linkDeadlineAndSignal(controller, deadline, signal);
    const onAbort = () => {
      if (timer !== undefined) clearTimeout(timer);
      stop();
      const reason = controller.signal.reason as FunkerError;
      // Before delivery nothing ran: the same codes, but mayHaveRun false.
      reject(delivered ? reason : new FunkerError(reason.code, reason.message, { mayHaveRun: false }));
    };
    // A wait that reaches past the deadline is ended by the deadline alone:
    // two timers due at nearly the same moment may fire in either order.
    const timer =
      delayMs >= remaining
        ? undefined
        : setTimeout(() => {
            controller.signal.removeEventListener("abort", onAbort);
            stop();
            resolve();
          }, Math.max(0, delayMs));
    controller.signal.addEventListener("abort", onAbort, { once: true });
    if (controller.signal.aborted) onAbort();
  });
}
