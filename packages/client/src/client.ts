import { randomBytes } from "node:crypto";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  FunkerError,
  MAX_FUNCTION_NAME_LENGTH,
  encodeCall,
  encodeLegacyRequest,
} from "@funker/protocol";
import { resolveMaxPayloadBytes } from "@funker/protocol/internal";
import type { CallHeader } from "@funker/protocol";
import { runLegacy } from "./connection.js";
import type { AttemptOutcome, AttemptRequest } from "./connection.js";
import { Discovery, endpointTableFrom, parseAddress, parseEndpoints, systemDnsResolver } from "./discovery.js";
import type { Address } from "./discovery.js";
import { currentInterceptor } from "./interceptor.js";
import type { InterceptedCall } from "./interceptor.js";
import type { CallOptions, CallProtocol, ClientOptions, RetryPolicy } from "./options.js";
import { ConnectionPool } from "./pool.js";
import { activeTraceContext } from "./trace.js";

/** The defaults, each with its reason. */
const DEFAULTS = {
  /** A minute: long enough for real work, short enough that a lost call is noticed. */
  timeout: 60_000,
  /** The 2017 Funker port, which every function still listens on. */
  port: 9999,
  /** Deliveries of an idempotent call; a call that is not idempotent is delivered at most once. */
  retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 1_000 } satisfies RetryPolicy,
  /** About the ~275 ms a dead task lingers in Swarm DNS, a few times over, yet fresh. */
  dnsCacheMs: 1_000,
  /** Swarm DNS look-ups that hang do so for hundreds of ms; a second is past an honest answer. */
  lookupTimeoutMs: 1_000,
  /**
   * A connection on loopback or an overlay network is up in milliseconds; a
   * dead replica's address whose SYNs are dropped would otherwise hold a call
   * until its deadline. A second is far above an honest handshake.
   */
  connectTimeoutMs: 1_000,
  /**
   * The longest skip of an address that keeps refusing: longer than the
   * ~275 ms a dead task's address stays in `tasks.<name>`. The first refusal
   * skips it for a tenth of this, each further one in a row for twice as long.
   */
  deadAddressMs: 1_000,
  /** A replica of a just-created service needs about a second or two to start and appear in DNS. */
  notFoundGraceMs: 2_000,
  /** Below the idle timeouts common on servers (5 s), so the client closes first, not the handler. */
  idleConnectionTimeoutMs: 4_000,
  /** Enough for a burst of concurrent calls to one replica without keeping hundreds of sockets. */
  maxIdleConnectionsPerAddress: 16,
} as const;

/** How long an interceptor may take to report its own deadline or cancellation before the client reports one for it. */
const INTERCEPTOR_GRACE_MS = 50;

/** Call ids: a random prefix per process and a counter, unique without a random draw per call. */
const callIdPrefix = randomBytes(6).toString("base64url");
let callIdCounter = 0;
function nextCallId(): string {
  callIdCounter = (callIdCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${callIdPrefix}-${callIdCounter.toString(36)}`;
}

function checkPositive(value: number | undefined, what: string, allowZero = false): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(`${what} must be a ${allowZero ? "non-negative" : "positive"} finite number of milliseconds`);
  }
}

/** Full jitter: a random wait between 0 and an exponentially growing ceiling. */
function backoffDelay(policy: RetryPolicy, backoffs: number): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(backoffs, 30));
  return Math.random() * ceiling;
}

type Waited<T> = { kind: "value"; value: T } | { kind: "deadline" } | { kind: "aborted" };

/**
 * Waits for a promise, or only for `delayMs` when there is none (a back-off),
 * and gives up at the deadline or on abort, whichever comes first.
 */
function waitFor<T>(promise: Promise<T> | undefined, delayMs: number, deadline: number, signal: AbortSignal | undefined): Promise<Waited<T>> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) {
      resolve({ kind: "aborted" });
      return;
    }
    const remaining = deadline - Date.now();
    const deadlineFirst = remaining <= delayMs;
    const settle = (result: Waited<T>): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = (): void => settle({ kind: "aborted" });
    const timer = setTimeout(
      () => settle(deadlineFirst ? { kind: "deadline" } : { kind: "value", value: undefined as T }),
      Math.min(Math.max(0, deadlineFirst ? remaining : delayMs), 2_147_483_647),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    promise?.then((value) => settle({ kind: "value", value }));
  });
}

/** The shared state behind a client's `call`. */
export class ClientCore {
  private readonly options: ClientOptions;
  private readonly discovery: Discovery;
  private readonly pool: ConnectionPool;
  private readonly maxPayloadBytes: number;
  private readonly retry: RetryPolicy;
  private readonly notFoundGraceMs: number;
  private readonly connectTimeoutMs: number;
  private closed = false;
  /** Where `pick` starts looking, so that calls go round the replicas; random, so that clients do not all start at the first. */
  private nextPick = Math.floor(Math.random() * 1_000_000);
  /** This client's attempts in flight per address. */
  private readonly attemptsInFlight = new Map<string, number>();

  constructor(options: ClientOptions = {}, environmentEndpoints: string | undefined = process.env["FUNKER_ENDPOINTS"]) {
    for (const key of ["timeout", "dnsCacheMs", "lookupTimeoutMs", "connectTimeoutMs", "deadAddressMs", "notFoundGraceMs", "idleConnectionTimeoutMs"] as const) {
      checkPositive(options[key], key, key !== "timeout" && key !== "lookupTimeoutMs" && key !== "connectTimeoutMs");
    }
    checkPositive(options.heartbeatIntervalMs, "heartbeatIntervalMs", true);
    this.options = options;
    this.maxPayloadBytes = resolveMaxPayloadBytes(options.maxPayloadBytes);
    this.retry = { ...DEFAULTS.retry, ...options.retry };
    this.notFoundGraceMs = options.notFoundGraceMs ?? DEFAULTS.notFoundGraceMs;
    let endpoints = new Map<string, readonly string[]>();
    if (environmentEndpoints !== undefined && environmentEndpoints.trim() !== "") {
      try {
        endpoints = parseEndpoints(environmentEndpoints);
      } catch (error) {
        throw new TypeError(`FUNKER_ENDPOINTS: ${(error as Error).message}`, { cause: error });
      }
    }
    for (const [name, addresses] of endpointTableFrom(options.endpoints)) endpoints.set(name, addresses);
    const lookupTimeoutMs = options.lookupTimeoutMs ?? DEFAULTS.lookupTimeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    this.discovery = new Discovery({
      endpoints,
      dns: options.dns ?? systemDnsResolver(lookupTimeoutMs),
      cacheMs: options.dnsCacheMs ?? DEFAULTS.dnsCacheMs,
      lookupTimeoutMs,
      deadAddressMs: options.deadAddressMs ?? DEFAULTS.deadAddressMs,
    });
    this.pool = new ConnectionPool(
      this.maxPayloadBytes,
      options.idleConnectionTimeoutMs ?? DEFAULTS.idleConnectionTimeoutMs,
      options.maxIdleConnectionsPerAddress ?? DEFAULTS.maxIdleConnectionsPerAddress,
    );
  }

  close(): Promise<void> {
    this.closed = true;
    this.pool.close();
    return Promise.resolve();
  }

  async call(name: string, args: unknown, options: CallOptions = {}): Promise<unknown> {
    const timeout = options.timeout ?? this.options.timeout ?? DEFAULTS.timeout;
    checkPositive(timeout, "timeout");
    const deadline = Date.now() + timeout;
    if (typeof name !== "string" || name.length === 0 || name.length > MAX_FUNCTION_NAME_LENGTH) {
      throw new FunkerError("bad_arguments", `a function name is a string of 1 to ${MAX_FUNCTION_NAME_LENGTH} characters`, { mayHaveRun: false });
    }
    // The 2017 Python caller sent {} when given no arguments; handlers may rely on an object.
    const sentArgs = args === undefined ? {} : args;
    const protocol: CallProtocol = options.protocol ?? this.options.protocol ?? "framed";
    const metadata =
      options.metadata === undefined ? this.options.metadata : this.options.metadata === undefined ? options.metadata : { ...this.options.metadata, ...options.metadata };
    let traceparent = options.traceparent;
    let tracestate = options.tracestate;
    if (traceparent === undefined) {
      const active = activeTraceContext();
      if (active !== undefined) {
        traceparent = active.traceparent;
        tracestate ??= active.tracestate;
      }
    }
    const idempotent = options.idempotent ?? this.options.idempotent ?? false;
    const retry = options.retry === undefined ? this.retry : { ...this.retry, ...options.retry };
    const signal = options.signal;

    // Checked before the interceptor too, so that fakes see what the network would.
    if (this.closed) throw new FunkerError("cancelled", "the client is closed", { mayHaveRun: false });
    if (signal?.aborted === true) {
      throw new FunkerError("cancelled", `the call to "${name}" was cancelled before it started`, { mayHaveRun: false, cause: signal.reason });
    }
    // Encoded before the interceptor too: a fake refuses what the wire would (arguments, metadata, trace context, sizes).
    const id = nextCallId();
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    let bytes: Uint8Array;
    if (protocol === "legacy") {
      bytes = encodeLegacyRequest(sentArgs, this.maxPayloadBytes);
    } else {
      const header: CallHeader = { id, function: name, deadline, heartbeatIntervalMs };
      if (traceparent !== undefined) header.traceparent = traceparent;
      if (tracestate !== undefined) header.tracestate = tracestate;
      if (metadata !== undefined) header.metadata = metadata;
      bytes = encodeCall(header, sentArgs, this.maxPayloadBytes);
    }
    const interceptor = currentInterceptor();
    if (interceptor !== undefined) {
      const intercepted: InterceptedCall = {
        name,
        args: sentArgs,
        deadline,
        options: { metadata, idempotent, protocol, traceparent, tracestate, signal, timeout, retry },
      };
      return this.intercept(interceptor(intercepted), name, timeout, deadline, signal);
    }

    const request: AttemptRequest = {
      name,
      id,
      bytes,
      deadline,
      heartbeatIntervalMs: protocol === "legacy" ? 0 : heartbeatIntervalMs,
      signal,
      connectTimeoutMs: this.connectTimeoutMs,
    };
    const port = options.port ?? this.options.port ?? DEFAULTS.port;
    const callEndpoints =
      options.endpoints === undefined
        ? undefined
        : (typeof options.endpoints === "string" ? options.endpoints.split(",") : options.endpoints).map((text) => parseAddress(text, port));
    return this.deliver(request, protocol, port, callEndpoints, idempotent, retry, timeout);
  }

  private async intercept(
    answer: Promise<unknown>,
    name: string,
    timeout: number,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    // Fakes that never answer must still end at the deadline, as real calls do.
    const outcome = await waitFor(
      answer.then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ),
      Number.POSITIVE_INFINITY,
      deadline,
      signal,
    );
    if (outcome.kind === "value") {
      if (outcome.value.ok) return outcome.value.value;
      throw FunkerError.from(outcome.value.error);
    }
    // A fake that watches the same deadline and signal knows better whether
    // its call was delivered: give its own answer a moment to arrive.
    let graceTimer: NodeJS.Timeout | undefined;
    const ownAnswer = await Promise.race([
      answer.then(
        () => undefined,
        (error: unknown) => (error instanceof FunkerError ? error : undefined),
      ),
      new Promise<undefined>((resolve) => (graceTimer = setTimeout(() => resolve(undefined), INTERCEPTOR_GRACE_MS))),
    ]);
    clearTimeout(graceTimer);
    if (ownAnswer !== undefined && (ownAnswer.code === "deadline_exceeded" || ownAnswer.code === "cancelled")) throw ownAnswer;
    if (outcome.kind === "deadline") {
      throw new FunkerError("deadline_exceeded", `the call to "${name}" did not finish within ${timeout} ms`, { mayHaveRun: true });
    }
    throw new FunkerError("cancelled", `the call to "${name}" was cancelled`, { mayHaveRun: true, cause: signal?.reason });
  }

  /**
   * The retry loop. Undelivered failures (retry rule "always", `mayHaveRun`
   * false) move on to another replica at once, and back off once every
   * replica failed; failures after delivery end the call unless it is
   * idempotent and its code allows a retry. The deadline bounds it all.
   */
  private async deliver(
    request: AttemptRequest,
    protocol: CallProtocol,
    port: number,
    callEndpoints: readonly Address[] | undefined,
    idempotent: boolean,
    retry: RetryPolicy,
    timeout: number,
  ): Promise<unknown> {
    const { name, deadline, signal } = request;
    let lastError: FunkerError | undefined;
    let delivered = false;
    let deliveries = 0;
    let backoffs = 0;
    let notFoundSince: number | undefined;
    let failedThisRound: Set<string> | undefined;

    const stop = (kind: "deadline" | "aborted"): FunkerError => {
      const last = lastError === undefined ? "" : `; the last attempt failed: ${lastError.message}`;
      return kind === "deadline"
        ? new FunkerError("deadline_exceeded", `the call to "${name}" did not finish within ${timeout} ms${last}`, { mayHaveRun: delivered, cause: lastError })
        : new FunkerError("cancelled", `the call to "${name}" was cancelled`, { mayHaveRun: delivered, cause: signal?.reason });
    };
    const backOff = async (): Promise<void> => {
      const waited = await waitFor(undefined, backoffDelay(retry, backoffs), deadline, signal);
      backoffs += 1;
      if (waited.kind !== "value") throw stop(waited.kind);
    };

    for (;;) {
      const now = Date.now();
      if (signal?.aborted === true) throw stop("aborted");
      if (now >= deadline) throw stop("deadline");

      let addresses = callEndpoints ?? this.discovery.cached(name, port, now);
      if (addresses === undefined) {
        const waited = await waitFor(this.discovery.lookUp(name, port), Number.POSITIVE_INFINITY, deadline, signal);
        if (waited.kind !== "value") throw stop(waited.kind);
        const resolution = waited.value;
        if (resolution.kind === "not_found") {
          notFoundSince ??= Date.now();
          lastError = new FunkerError("not_found", `no function "${name}" was found (neither tasks.${name} nor ${name} resolves)`, { mayHaveRun: false });
          if (Date.now() - notFoundSince >= this.notFoundGraceMs) {
            throw delivered ? afterDelivery(lastError) : lastError;
          }
          await backOff();
          continue;
        }
        if (resolution.kind === "failed") {
          lastError = resolution.error;
          await backOff();
          continue;
        }
        addresses = resolution.addresses;
      }
      notFoundSince = undefined;

      const address = this.pick(addresses, failedThisRound, protocol, Date.now());
      if (address === undefined) {
        // Every replica refused or was busy this round: wait, then try them all again.
        failedThisRound?.clear();
        lastError ??= new FunkerError("unavailable", `every replica of "${name}" is marked unreachable`, { mayHaveRun: false });
        const retryAt = this.discovery.firstRetryAt(addresses, Date.now());
        if (retryAt === undefined) {
          await backOff();
        } else {
          // Every replica refused lately (restarting single-shot replicas): try again when the first may be back.
          const waited = await waitFor(undefined, retryAt - Date.now(), deadline, signal);
          if (waited.kind !== "value") throw stop(waited.kind);
        }
        continue;
      }

      let outcome: AttemptOutcome;
      this.startAttempt(address.key);
      try {
        outcome = protocol === "legacy" ? await runLegacy(address, request, this.maxPayloadBytes) : await this.pool.acquire(address).run(request);
      } finally {
        this.endAttempt(address.key);
      }
      if (outcome.ok) {
        this.discovery.markAlive(address);
        return outcome.value;
      }
      const error = outcome.error;
      if (outcome.addressDead) this.discovery.markDead(address, Date.now());
      else this.discovery.markAlive(address);

      if (!error.mayHaveRun) {
        if (error.retry === "always") {
          lastError = error;
          (failedThisRound ??= new Set()).add(address.key);
          continue;
        }
        throw delivered ? afterDelivery(error) : error;
      }
      delivered = true;
      deliveries += 1;
      if (idempotent && error.retry !== "never" && deliveries < retry.maxAttempts) {
        lastError = error;
        await backOff();
        continue;
      }
      throw error;
    }
  }

  private startAttempt(key: string): void {
    this.attemptsInFlight.set(key, (this.attemptsInFlight.get(key) ?? 0) + 1);
  }

  private endAttempt(key: string): void {
    const count = (this.attemptsInFlight.get(key) ?? 1) - 1;
    if (count === 0) this.attemptsInFlight.delete(key);
    else this.attemptsInFlight.set(key, count);
  }

  /**
   * A non-dead replica not failed this round, with the fewest of this
   * client's attempts in flight, preferring one with an idle kept
   * connection. The fewest in flight because a single-shot replica takes one
   * call and refuses the rest, and a reuse-mode one answers fastest when
   * least loaded. The search starts one replica further on each call, so
   * that ties go round the replicas and every replica takes a share.
   */
  private pick(addresses: readonly Address[], failedThisRound: Set<string> | undefined, protocol: CallProtocol, now: number): Address | undefined {
    const count = addresses.length;
    if (count === 1) {
      const only = addresses[0] as Address;
      return failedThisRound?.has(only.key) === true || this.discovery.isDead(only, now) ? undefined : only;
    }
    const start = this.nextPick % count;
    this.nextPick = start + 1;
    let best: Address | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let offset = 0; offset < count; offset += 1) {
      const address = addresses[(start + offset) % count] as Address;
      if (failedThisRound?.has(address.key) === true || this.discovery.isDead(address, now)) continue;
      const inFlight = this.attemptsInFlight.size === 0 ? 0 : (this.attemptsInFlight.get(address.key) ?? 0);
      // Twice the in-flight count, less one for an idle connection ready to use.
      const score = 2 * inFlight + (protocol === "framed" && this.pool.hasIdle(address.key) ? 0 : 1);
      if (score === 0) return address;
      if (score < bestScore) {
        best = address;
        bestScore = score;
      }
    }
    return best;
  }
}

/** An undelivered failure of a retry, after an earlier attempt was delivered: the function may have run. */
function afterDelivery(error: FunkerError): FunkerError {
  if (error.mayHaveRun) return error;
  return new FunkerError(error.code, error.message, { cause: error.cause, data: error.data, mayHaveRun: true, remote: error.remote });
}
