import type { FunctionMap as ClientFunctionMap } from "@funker/client";
import { installNetwork } from "@funker/client/internal";
import type { AttemptOutcome, AttemptRequest, CallEnd } from "@funker/client/internal";
import type { CallInfo } from "@funker/handler";
import { encodeFunctionResult, thrownToWire } from "@funker/handler/internal";
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

/** A scripted behaviour for the next attempts of one function. */
type Script =
  | { kind: "fail"; error: () => FunkerError; remaining: number }
  | { kind: "busy"; remaining: number }
  | { kind: "slow"; delayMs: number; remaining: number }
  | { kind: "crash"; remaining: number };

/**
 * Functions in memory, standing in for the network: while installed, every
 * `call` of `@funker/client` (the default client and every client made by
 * `createClient`) reaches these implementations instead of a socket. The
 * client runs as it does over the network (it checks and encodes the call,
 * picks a replica, backs off and retries by its own rules); only the last
 * step, one attempt on one replica, is answered here, by a single fake
 * replica per function. Calls are recorded for assertions; failures, busy
 * replicas, slowness and crashes can be scripted. Call `restore()` (or let
 * `using` do it) to put the real network back.
 */
export interface FakeFunctions<Functions extends FunctionMap<Functions> = UntypedFunctions> extends Disposable {
  /** Every call, in the order they were made. */
  readonly calls: readonly RecordedCall[];
  /** The calls to one function. */
  callsTo(name: keyof Functions & string): RecordedCall[];
  /** Replaces (or adds) one function's implementation. */
  set<Name extends keyof Functions & string>(name: Name, implementation: FakeImplementations<Functions>[Name]): this;
  /**
   * The next `times` attempts (default 1) fail with `error`: an `ErrorCode`
   * (with a made-up message) or a `FunkerError` of your own, which the
   * client then treats as it would from the network: codes that a function
   * sends (`handler_error`, `bad_arguments`, …) arrive `remote`, and a code
   * the client retries (`unavailable`, `connection_failed`, or
   * `handler_crashed` for an idempotent call) is retried.
   */
  fail(name: keyof Functions & string, error: ErrorCode | FunkerError, options?: { times?: number; message?: string }): this;
  /** The next `times` attempts find the replica busy: the client backs off and tries again, as over the network, until the deadline. */
  busy(name: keyof Functions & string, times: number): this;
  /** The next `times` calls (default 1) take `delayMs` before the function runs; the deadline and the caller's signal apply. */
  slow(name: keyof Functions & string, delayMs: number, options?: { times?: number }): this;
  /** The next `times` attempts (default 1) lose their replica mid-call: `handler_crashed`, which the client retries when the call is idempotent. */
  crash(name: keyof Functions & string, options?: { times?: number }): this;
  /** Forgets recorded calls and scripted behaviours. */
  reset(): void;
  /** Puts the real network back. Safe to call twice. */
  restore(): void;
}

/** What a fake replica reads from an attempt: the call as a handler would decode it. */
interface DecodedCall {
  readonly args: unknown;
  readonly deadline: number;
  readonly metadata: Readonly<Record<string, string>>;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
}

function decodeAttempt(request: AttemptRequest): DecodedCall {
  const { header } = request;
  // A 2017-format call carries none of the header: the function sees what a 2017 caller sends.
  if (request.protocol === "legacy") return { args: decodeJson(request.body), deadline: request.deadline, metadata: {}, traceparent: undefined, tracestate: undefined };
  return {
    args: decodeJson(request.body),
    deadline: header.deadline,
    metadata: Object.freeze({ ...(header.metadata ?? {}) }),
    traceparent: header.traceparent,
    tracestate: header.tracestate,
  };
}

/** A fake replica speaks the framed protocol: an "auto" call reaches it framed. */
function wireModeOf(request: AttemptRequest): "framed" | "legacy" {
  return request.protocol === "legacy" ? "legacy" : "framed";
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
): FakeFunctions<Functions> {
  const functions = new Map<string, FakeImplementation<never, unknown>>(
    Object.entries(implementations).filter((entry): entry is [string, FakeImplementation<never, unknown>] => typeof entry[1] === "function"),
  );
  const scripts = new Map<string, Script[]>();
  const calls: RecordedCall[] = [];
  /** The record of each call in flight, by call id: a call's attempts share it. */
  const inFlight = new Map<string, { record: RecordedCall; decoded: DecodedCall }>();

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

  /** The call's record, made when the client first shows it (an attempt, or its end before any). */
  function recordOf(request: AttemptRequest): { record: RecordedCall; decoded: DecodedCall } {
    let entry = inFlight.get(request.id);
    if (entry === undefined) {
      const decoded = decodeAttempt(request);
      const record: RecordedCall = {
        name: request.name,
        args: decoded.args,
        metadata: decoded.metadata,
        deadline: decoded.deadline,
        idempotent: request.idempotent,
        protocol: wireModeOf(request),
        traceparent: decoded.traceparent,
        deliveries: 0,
        outcome: undefined,
      };
      calls.push(record);
      entry = { record, decoded };
      inFlight.set(request.id, entry);
    }
    return entry;
  }

  async function attempt(request: AttemptRequest): Promise<AttemptOutcome> {
    const { name } = request;
    const { record, decoded } = recordOf(request);
    const implementation = functions.get(name);
    if (implementation === undefined) {
      // The function was removed between the look-up and the attempt.
      return { ok: false, addressDead: false, error: new FunkerError("not_found", `no function named "${name}" is reachable`, { mayHaveRun: false }) };
    }
    const behaviour = nextScript(name);
    if (behaviour?.kind === "busy") {
      return { ok: false, addressDead: false, error: new FunkerError("unavailable", `the replica of "${name}" is busy (fake)`, { mayHaveRun: false, remote: true }) };
    }
    if (behaviour?.kind === "fail") {
      const error = behaviour.error();
      if (error.mayHaveRun) record.deliveries += 1;
      return { ok: false, addressDead: false, error };
    }
    record.deliveries += 1;
    if (behaviour?.kind === "crash") {
      return { ok: false, addressDead: false, error: new FunkerError("handler_crashed", `the replica of "${name}" died during the call (fake)`, { mayHaveRun: true }) };
    }
    const controller = new AbortController();
    const stop = linkDeadlineAndSignal(controller, decoded.deadline, request.signal);
    try {
      if (behaviour?.kind === "slow") await Promise.race([delay(behaviour.delayMs), abortedPromise(controller.signal)]);
      const value = await Promise.race([run(implementation, request, decoded, controller.signal), abortedPromise(controller.signal)]);
      return { ok: true, value };
    } catch (error) {
      return { ok: false, addressDead: false, error: FunkerError.from(error) };
    } finally {
      stop();
    }
  }

  function callEnded(request: AttemptRequest, end: CallEnd): void {
    const { record } = recordOf(request);
    inFlight.delete(request.id);
    record.outcome = end.ok ? { ok: true, value: end.value } : { ok: false, error: end.error };
  }

  const restoreNetwork = installNetwork({
    names: {
      // A fake knows its functions: an unknown name is final, with no grace to wait out.
      lookUp: async (name) => (functions.has(name) ? { kind: "found", hosts: [`fake-${name}`] } : { kind: "not_found", final: true }),
    },
    transport: { attempt: (_address, request) => attempt(request), hasIdle: () => false, close: () => undefined },
    callEnded,
  });
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
      restoreNetwork();
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

/** Runs the implementation as the handler would: its result and what it throws go through the wire format. */
async function run(implementation: FakeImplementation<never, unknown>, request: AttemptRequest, decoded: DecodedCall, signal: AbortSignal): Promise<unknown> {
  const context: CallInfo = {
    signal,
    deadline: decoded.deadline,
    remainingMs: () => Math.max(0, decoded.deadline - Date.now()),
    id: request.id,
    functionName: request.name,
    protocol: wireModeOf(request),
    traceparent: decoded.traceparent,
    tracestate: decoded.tracestate,
    metadata: decoded.metadata,
  };
  try {
    // A JSON round trip: what the real function would have received.
    const value = await implementation(decodeJson(encodeJson(decoded.args)) as never, context);
    return decodeJson(encodeFunctionResult(value));
  } catch (thrown) {
    // As over the wire: the handler's account of what was thrown, and the
    // function ran (the handler had accepted the call).
    throw FunkerError.fromWire(thrownToWire(thrown, false), { mayHaveRun: true });
  }
}

/** Aborts `controller` at the deadline or when the caller's signal fires, as a handler's call is. */
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

/** A wait through `setTimeout`, so that fake timers (vitest, jest, @sinonjs) control it. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
