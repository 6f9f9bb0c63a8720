import { randomBytes } from "node:crypto";
import { DEFAULT_HEARTBEAT_INTERVAL_MS, FunkerError, MAX_FUNCTION_NAME_LENGTH, encodeJson } from "@funker/protocol";
import { checkCallHeader, resolveMaxPayloadBytes } from "@funker/protocol/internal";
import { KEY_VARIABLES, KeyRing, SharedKeyError, digestArguments, keySourceFor, parseKeyFiles, signCall, timerDelay } from "@funker/node-utils";
import type { KeySource } from "@funker/node-utils";
import type { CallAuth, CallHeader } from "@funker/protocol";
import type { AttemptOutcome, AttemptRequest, AttemptTransport } from "./attempt.js";
import { Discovery, DnsNameSource, endpointTableFrom, parseAddress, parseEndpoints, systemDnsResolver } from "./discovery.js";
import type { Address, EndpointTable, ProtocolPins } from "./discovery.js";
import { NetworkTransport, installedNetwork } from "./network.js";
import type { Network } from "./network.js";
import type { CallOptions, CallProtocol, ClientOptions, RetryPolicy } from "./options.js";
import { NOT_YET_DELIVERED, afterDelivery, backoffDelay, nextStep } from "./retry.js";
import type { RetryState, RetryTerms } from "./retry.js";
import { ClientSpan } from "./client-span.js";
import { activeTraceContext } from "./trace.js";
import { DEFAULT_AUTOSCALER_HOST, Waker } from "./wake.js";
import type { WakeOutcome } from "./wake.js";

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
  /**
   * A Funker handler sends its HELLO as it reads the preface, in well under
   * a millisecond when it is idle and within one turn of its event loop when
   * busy; a second is far above that, and is what a 2017 function's first
   * call per client waits before it is known for one.
   */
  helloTimeoutMs: 1_000,
} as const;

/** A call's time limit, and whether nobody set it: the advice on a missed deadline differs. */
interface TimeLimit {
  readonly ms: number;
  readonly isDefault: boolean;
}

/** A call's settings, resolved from its options and the client's, before it is framed. */
interface PreparedCall {
  readonly id: string;
  readonly deadline: number;
  readonly timeout: number;
  readonly protocol: CallProtocol;
  readonly metadata: Readonly<Record<string, string>> | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  readonly idempotent: boolean;
  readonly retry: RetryPolicy;
}

/**
 * What a missed deadline's message adds: the limit that passed and how to
 * change it, since a call that needs longer than the default minute is
 * otherwise only told that it was late.
 */
export function timeLimitAdvice(limit: TimeLimit): string {
  return limit.isDefault
    ? ` (the default, ${limit.ms} ms; a call's or a client's \`timeout\` option, in ms, sets another)`
    : ` (its \`timeout\`, ${limit.ms} ms)`;
}

/**
 * A missed deadline of this call's time limit, with the limit and how to
 * change it; any other error as it is. A handler's own deadline_exceeded
 * counts when the call's deadline has passed (the handler had this call's
 * deadline, not a shorter timeout of its own).
 */
function withTimeLimitAdvice(error: FunkerError, limit: TimeLimit, deadline: number): FunkerError {
  if (error.code !== "deadline_exceeded" || (error.remote && Date.now() < deadline)) return error;
  return new FunkerError("deadline_exceeded", `${error.message}${timeLimitAdvice(limit)}`, {
    mayHaveRun: error.mayHaveRun,
    cause: error.cause,
    data: error.data,
    remote: error.remote,
    ...(error.remoteName === undefined ? {} : { remoteName: error.remoteName }),
    ...(error.remoteStack === undefined ? {} : { remoteStack: error.remoteStack }),
  });
}

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

/** An attempt that failed, for the retry loop to weigh. */
interface FailedAttempt {
  readonly address: Address;
  readonly outcome: Extract<AttemptOutcome, { ok: false }>;
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
      timerDelay(deadlineFirst ? remaining : delayMs),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    promise?.then((value) => settle({ kind: "value", value }));
  });
}

/**
 * Where a client's calls go: names resolved by a `Discovery`, attempts made
 * by a transport. A client has its own (DNS and sockets); an installed
 * network (fakes) replaces both for every client while it is installed.
 */
interface Route {
  readonly discovery: Discovery;
  /** Asks the autoscaler for a replica of a function that has none; absent where nothing can (fakes, `autoscaler: false`). */
  readonly waker?: Waker;
  readonly transport: AttemptTransport;
  readonly callEnded?: Network["callEnded"];
}

/** The shared state behind a client's `call`. */
export class ClientCore {
  private readonly options: ClientOptions;
  private readonly own: Route;
  private readonly maxPayloadBytes: number;
  private readonly retry: RetryPolicy;
  private readonly notFoundGraceMs: number;
  private readonly connectTimeoutMs: number;
  private readonly deadAddressMs: number;
  /** Protocols pinned per function (the client's `protocols`, `FUNKER_ENDPOINTS`' `name@protocol`). */
  private readonly pins: ProtocolPins;
  private closed = false;
  /** The route over the installed network, made when a call first meets that network. */
  private installed: { network: Network; route: Route } | undefined;
  /** Where `pick` starts looking, so that calls go round the replicas; random, so that clients do not all start at the first. */
  private nextPick = Math.floor(Math.random() * 1_000_000);
  /** This client's attempts in flight per address. */
  private readonly attemptsInFlight = new Map<string, number>();
  /** The keys that sign calls to each function named in the key settings, and to every other (`undefined`). */
  private readonly keyRings = new Map<string | undefined, KeyRing>();

  constructor(
    options: ClientOptions = {},
    environmentEndpoints: string | undefined = process.env["FUNKER_ENDPOINTS"],
    environment: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    for (const key of ["timeout", "dnsCacheMs", "lookupTimeoutMs", "connectTimeoutMs", "deadAddressMs", "notFoundGraceMs", "idleConnectionTimeoutMs", "helloTimeoutMs"] as const) {
      checkPositive(options[key], key, key !== "timeout" && key !== "lookupTimeoutMs" && key !== "connectTimeoutMs" && key !== "helloTimeoutMs");
    }
    checkPositive(options.heartbeatIntervalMs, "heartbeatIntervalMs", true);
    this.options = options;
    this.maxPayloadBytes = resolveMaxPayloadBytes(options.maxPayloadBytes);
    this.retry = { ...DEFAULTS.retry, ...options.retry };
    this.notFoundGraceMs = options.notFoundGraceMs ?? DEFAULTS.notFoundGraceMs;
    this.deadAddressMs = options.deadAddressMs ?? DEFAULTS.deadAddressMs;
    let endpoints: EndpointTable = new Map();
    let pins: ProtocolPins = new Map();
    if (environmentEndpoints !== undefined && environmentEndpoints.trim() !== "") {
      try {
        ({ addresses: endpoints, protocols: pins } = parseEndpoints(environmentEndpoints));
      } catch (error) {
        throw new TypeError(`FUNKER_ENDPOINTS: ${(error as Error).message}`, { cause: error });
      }
    }
    if (typeof options.endpoints === "string") {
      const parsed = parseEndpoints(options.endpoints);
      for (const [name, addresses] of parsed.addresses) endpoints.set(name, addresses);
      for (const [name, protocol] of parsed.protocols) pins.set(name, protocol);
    } else {
      for (const [name, addresses] of endpointTableFrom(options.endpoints)) endpoints.set(name, addresses);
    }
    for (const [name, protocol] of Object.entries(options.protocols ?? {})) {
      if (protocol !== "auto" && protocol !== "framed" && protocol !== "legacy") throw new TypeError(`protocols.${name} must be "auto", "framed" or "legacy"`);
      pins.set(name, protocol);
    }
    this.pins = pins;
    this.readKeys(options, environment);
    const lookupTimeoutMs = options.lookupTimeoutMs ?? DEFAULTS.lookupTimeoutMs;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs;
    const dns = options.dns ?? systemDnsResolver(lookupTimeoutMs);
    const autoscaler = autoscalerAddress(options.autoscaler, environment["FUNKER_AUTOSCALER"]);
    this.own = {
      ...(autoscaler === undefined ? {} : { waker: new Waker(autoscaler, dns, lookupTimeoutMs) }),
      discovery: new Discovery({
        endpoints,
        names: new DnsNameSource(dns, lookupTimeoutMs),
        cacheMs: options.dnsCacheMs ?? DEFAULTS.dnsCacheMs,
        deadAddressMs: this.deadAddressMs,
      }),
      transport: new NetworkTransport(
        this.maxPayloadBytes,
        options.idleConnectionTimeoutMs ?? DEFAULTS.idleConnectionTimeoutMs,
        options.maxIdleConnectionsPerAddress ?? DEFAULTS.maxIdleConnectionsPerAddress,
        options.helloTimeoutMs ?? DEFAULTS.helloTimeoutMs,
      ),
    };
  }

  /**
   * Reads every key source now, so that a missing or malformed key file
   * fails the client's creation with its reason rather than a call later.
   */
  private readKeys(options: ClientOptions, environment: Readonly<Record<string, string | undefined>>): void {
    const keyOptions = { secret: options.secret, secretFile: options.secretFile, secretFiles: options.secretFiles };
    const ringsBySource = new Map<string, KeyRing>();
    const ringFor = (source: KeySource | undefined): KeyRing | undefined => {
      if (source === undefined) return undefined;
      const identity = source.kind === "file" ? `file:${source.path}` : `text:${source.text}`;
      let ring = ringsBySource.get(identity);
      if (ring === undefined) {
        ring = new KeyRing(source);
        ringsBySource.set(identity, ring);
      }
      return ring;
    };
    try {
      const filesVariable = environment[KEY_VARIABLES.files];
      const namedInEnvironment = filesVariable === undefined || filesVariable.trim() === "" ? [] : Object.keys(parseKeyFiles(filesVariable));
      for (const name of new Set([undefined, ...Object.keys(options.secretFiles ?? {}), ...namedInEnvironment])) {
        const ring = ringFor(keySourceFor(name, keyOptions, environment));
        if (ring !== undefined) this.keyRings.set(name, ring);
      }
    } catch (error) {
      if (error instanceof SharedKeyError) throw new TypeError(error.message, { cause: error });
      throw error;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    this.own.transport.close();
    return Promise.resolve();
  }

  /**
   * The route of a call starting now: the installed network's while one is
   * installed (it stands in for every name, explicit endpoints included; its
   * answers are not cached, since fakes change between calls), else the
   * client's own.
   */
  private route(): Route {
    const network = installedNetwork();
    if (network === undefined) return this.own;
    if (this.installed?.network !== network) {
      this.installed = {
        network,
        route: {
          discovery: new Discovery({ endpoints: new Map(), names: network.names, cacheMs: 0, deadAddressMs: this.deadAddressMs }),
          transport: network.transport,
          callEnded: network.callEnded,
        },
      };
    }
    return this.installed.route;
  }

  call(name: string, args: unknown, options: CallOptions = {}): Promise<unknown> {
    // Not an async function: the call's promise is the retry loop's own,
    // not one more promise that waits for it (a layer and its microtasks on
    // every call). A check that throws still rejects, never throws.
    try {
      return this.startCall(name, args, options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  private startCall(name: string, args: unknown, options: CallOptions): Promise<unknown> {
    const timeout = options.timeout ?? this.options.timeout ?? DEFAULTS.timeout;
    checkPositive(timeout, "timeout");
    const deadline = Date.now() + timeout;
    if (typeof name !== "string" || name.length === 0 || name.length > MAX_FUNCTION_NAME_LENGTH) {
      throw new FunkerError("bad_arguments", `a function name is a string of 1 to ${MAX_FUNCTION_NAME_LENGTH} characters`, { mayHaveRun: false });
    }
    // The 2017 Python caller sent {} when given no arguments; handlers may rely on an object.
    const sentArgs = args === undefined ? {} : args;
    const protocol: CallProtocol = options.protocol ?? this.pins.get(name) ?? this.options.protocol ?? "auto";
    const metadata =
      options.metadata === undefined ? this.options.metadata : this.options.metadata === undefined ? options.metadata : { ...this.options.metadata, ...options.metadata };
    const idempotent = options.idempotent ?? this.options.idempotent ?? false;
    const retry = options.retry === undefined ? this.retry : { ...this.retry, ...options.retry };
    const signal = options.signal;

    if (this.closed) throw new FunkerError("cancelled", "the client is closed", { mayHaveRun: false });
    if (signal?.aborted === true) {
      throw new FunkerError("cancelled", `the call to "${name}" was cancelled before it started`, { mayHaveRun: false, cause: signal.reason });
    }
    const id = nextCallId();
    let traceparent = options.traceparent;
    let tracestate = options.tracestate;
    // A call given its trace context is sent with it as it is; otherwise it is traced where OpenTelemetry is set up.
    const span = traceparent === undefined ? ClientSpan.start(name, id) : undefined;
    if (traceparent === undefined) {
      const active = span === undefined ? activeTraceContext() : span.traceContext;
      if (active !== undefined) {
        traceparent = active.traceparent;
        tracestate ??= active.tracestate;
      }
    }
    if (span === undefined) return this.send(name, sentArgs, options, { id, deadline, timeout, protocol, metadata, traceparent, tracestate, idempotent, retry });
    let sent: Promise<unknown>;
    try {
      sent = this.send(name, sentArgs, options, { id, deadline, timeout, protocol, metadata, traceparent, tracestate, idempotent, retry });
    } catch (error) {
      span.end(FunkerError.from(error));
      throw error;
    }
    return sent.then(
      (value) => {
        span.end(undefined);
        return value;
      },
      (error: unknown) => {
        span.end(FunkerError.from(error));
        throw error;
      },
    );
  }

  private send(name: string, sentArgs: unknown, options: CallOptions, call: PreparedCall): Promise<unknown> {
    const { id, deadline, timeout, protocol, metadata, traceparent, tracestate, idempotent, retry } = call;
    const signal = options.signal;
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    // Checked once, before anything is sent, as the handler would check it;
    // each attempt then frames it in the format its replica speaks.
    const header: CallHeader = { id, function: name, deadline, heartbeatIntervalMs };
    if (traceparent !== undefined) header.traceparent = traceparent;
    if (tracestate !== undefined) header.tracestate = tracestate;
    if (metadata !== undefined) header.metadata = metadata;
    checkCallHeader(header, 2);
    const body = encodeJson(sentArgs, "arguments", this.maxPayloadBytes);
    const keys = this.keyRings.get(name) ?? this.keyRings.get(undefined);
    let sign: (() => CallAuth) | undefined;
    if (keys !== undefined) {
      const digest = digestArguments(body);
      sign = () => signCall(keys, header, digest);
    }
    const request: AttemptRequest = {
      name,
      id,
      protocol,
      header,
      body,
      deadline,
      heartbeatIntervalMs: protocol === "legacy" ? 0 : heartbeatIntervalMs,
      signal,
      connectTimeoutMs: this.connectTimeoutMs,
      idempotent,
      sign,
    };
    const port = options.port ?? this.options.port ?? DEFAULTS.port;
    const callEndpoints =
      options.endpoints === undefined
        ? undefined
        : (typeof options.endpoints === "string" ? options.endpoints.split(",") : options.endpoints).map((text) => parseAddress(text, port));
    const route = this.route();
    const limit: TimeLimit = { ms: timeout, isDefault: options.timeout === undefined && this.options.timeout === undefined };
    const delivered = this.deliver(route, request, port, callEndpoints, { idempotent, policy: retry }, limit);
    const callEnded = route.callEnded;
    if (callEnded === undefined) return delivered;
    return delivered.then(
      (value) => {
        callEnded(request, { ok: true, value });
        return value;
      },
      (error: unknown) => {
        callEnded(request, { ok: false, error: FunkerError.from(error) });
        throw error;
      },
    );
  }

  /**
   * The common case first: the addresses are known, a replica is free, and
   * its attempt succeeds. It takes one promise (the attempt's, and its
   * `then`) instead of the retry loop's async machinery; anything else,
   * including a failed first attempt, goes to the retry loop, which takes
   * up the failure as its own first attempt.
   */
  private deliver(
    route: Route,
    request: AttemptRequest,
    port: number,
    callEndpoints: readonly Address[] | undefined,
    terms: RetryTerms,
    limit: TimeLimit,
  ): Promise<unknown> {
    const { discovery, transport } = route;
    let address: Address | undefined;
    let attempt: Promise<AttemptOutcome>;
    try {
      const now = Date.now();
      const addresses = request.signal?.aborted === true || now >= request.deadline ? undefined : (callEndpoints ?? discovery.cached(request.name, port, now));
      address = addresses === undefined ? undefined : this.pick(addresses, undefined, request.protocol, transport, discovery, now);
      if (address === undefined) return this.retryLoop(route, request, port, callEndpoints, terms, limit, undefined);
      this.startAttempt(address.key);
      attempt = transport.attempt(address, request);
    } catch (error) {
      // Rejected, never thrown, as from the retry loop: a fake network still hears how the call ended.
      if (address !== undefined) this.endAttempt(address.key);
      return Promise.reject(error as Error);
    }
    const picked = address;
    return attempt.then(
      (outcome) => {
        this.endAttempt(picked.key);
        if (!outcome.ok) return this.retryLoop(route, request, port, callEndpoints, terms, limit, { address: picked, outcome });
        discovery.markAlive(picked);
        return outcome.value;
      },
      (error: unknown) => {
        this.endAttempt(picked.key);
        throw error;
      },
    );
  }

  /**
   * The retry loop: resolve, pick a replica, attempt, and ask `nextStep`
   * what a failure means. Undelivered failures move on to another replica
   * at once and wait only once every replica failed this round; failures
   * after delivery end the call unless the retry terms allow another
   * delivery. The deadline and the caller's signal bound it all.
   */
  private async retryLoop(
    route: Route,
    request: AttemptRequest,
    port: number,
    callEndpoints: readonly Address[] | undefined,
    terms: RetryTerms,
    limit: TimeLimit,
    /** A failed attempt made before the loop, which the loop takes up as its own. */
    first: FailedAttempt | undefined,
  ): Promise<unknown> {
    const timeout = limit.ms;
    const { name, deadline, signal } = request;
    const { discovery, transport } = route;
    let lastError: FunkerError | undefined;
    let state: RetryState = NOT_YET_DELIVERED;
    let backoffs = 0;
    let notFoundSince: number | undefined;
    let failedThisRound: Set<string> | undefined;
    /** Set while a name that had replicas resolves nowhere: they are restarting. */
    let restartingSince: number | undefined;
    /** The autoscaler's answer once asked for a replica (undefined while it has not answered). */
    let wake: { outcome: WakeOutcome | undefined } | undefined;
    const askToWake = (): void => {
      if (wake !== undefined || route.waker === undefined) return;
      const asked: { outcome: WakeOutcome | undefined } = { outcome: undefined };
      wake = asked;
      void route.waker.wake(name, deadline).then((outcome) => {
        asked.outcome = outcome;
      });
    };

    const stop = (kind: "deadline" | "aborted"): FunkerError => {
      const last = lastError === undefined ? "" : `; the last attempt failed: ${lastError.message}`;
      if (kind === "deadline" && wake?.outcome === "known" && restartingSince !== undefined && !state.delivered) {
        return new FunkerError(
          "unavailable",
          `no replica of "${name}" started within the call's ${timeout} ms: the autoscaler at ${route.waker?.where ?? "?"} was asked to start one ${Date.now() - restartingSince} ms ago; the call was not delivered`,
          { mayHaveRun: false, cause: lastError },
        );
      }
      if (kind === "deadline" && restartingSince !== undefined && !state.delivered) {
        // Replicas that never came back: the call was never delivered, so "unavailable", not a deadline of a call that ran.
        return new FunkerError(
          "unavailable",
          `no replica of "${name}" came back within the call's ${timeout} ms: it had replicas before, and none has been in DNS for ${Date.now() - restartingSince} ms (restarting, or removed); the call was not delivered`,
          { mayHaveRun: false, cause: lastError },
        );
      }
      return kind === "deadline"
        ? new FunkerError("deadline_exceeded", `the call to "${name}" did not finish within its time limit${timeLimitAdvice(limit)}${last}`, {
            mayHaveRun: state.delivered,
            cause: lastError,
          })
        : new FunkerError("cancelled", `the call to "${name}" was cancelled`, { mayHaveRun: state.delivered, cause: signal?.reason });
    };
    const backOff = async (): Promise<void> => {
      const waited = await waitFor(undefined, backoffDelay(terms.policy, backoffs), deadline, signal);
      backoffs += 1;
      if (waited.kind !== "value") throw stop(waited.kind);
    };
    const failWith = (error: FunkerError): FunkerError => (state.delivered ? afterDelivery(error) : error);

    let failed = first;
    for (;;) {
      if (failed !== undefined) {
        const { address, outcome } = failed;
        failed = undefined;
        if (outcome.addressDead) discovery.markDead(address, Date.now());
        else discovery.markAlive(address);

        const step = nextStep(outcome.error, state, terms);
        switch (step.kind) {
          case "elsewhere":
            lastError = outcome.error;
            (failedThisRound ??= new Set()).add(address.key);
            break;
          case "back-off":
            state = step.state;
            lastError = outcome.error;
            await backOff();
            break;
          case "fail":
            throw withTimeLimitAdvice(step.error, limit, deadline);
          default: {
            const unexpected: never = step;
            throw new Error(`unhandled step ${String(unexpected)}`);
          }
        }
      }

      const now = Date.now();
      if (signal?.aborted === true) throw stop("aborted");
      if (now >= deadline) throw stop("deadline");

      let addresses = callEndpoints ?? discovery.cached(name, port, now);
      if (addresses === undefined) {
        const waited = await waitFor(discovery.lookUp(name, port), Number.POSITIVE_INFINITY, deadline, signal);
        if (waited.kind !== "value") throw stop(waited.kind);
        const resolution = waited.value;
        // No replica in DNS: it may be at zero, so the autoscaler is asked for one (once per call) while the look-ups go on.
        if (resolution.kind === "not_found" && !resolution.final) askToWake();
        const woke = wake?.outcome;
        if (resolution.kind === "not_found" && !resolution.final && woke !== "unknown" && (woke === "known" || discovery.foundAt(name, Date.now()) !== undefined)) {
          // Replicas restarting (a single-shot replica under a restart delay), or one the autoscaler starts: wait for them until the deadline.
          restartingSince ??= Date.now();
          lastError = new FunkerError(
            "unavailable",
            woke === "known" ? `no replica of "${name}" runs yet: the autoscaler is starting one` : `no replica of "${name}" is in DNS now, though it had some: they are restarting`,
            { mayHaveRun: false },
          );
          await backOff();
          continue;
        }
        if (resolution.kind === "not_found") {
          notFoundSince ??= Date.now();
          const autoscaler =
            route.waker === undefined || resolution.final
              ? ""
              : woke === "unknown"
                ? `, and the autoscaler at ${route.waker.where} knows no such function`
                : `: no replica runs, and no autoscaler answered at ${route.waker.where} to start one`;
          lastError = new FunkerError("not_found", `no function "${name}" was found (neither tasks.${name} nor ${name} resolves)${autoscaler}`, { mayHaveRun: false });
          // A wake still unanswered holds the grace open: a loaded autoscaler may answer late (within its own time limit).
          const wakePending = wake !== undefined && woke === undefined;
          if (resolution.final || woke === "unknown" || (!wakePending && Date.now() - notFoundSince >= this.notFoundGraceMs)) throw failWith(lastError);
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
      restartingSince = undefined;

      const address = this.pick(addresses, failedThisRound, request.protocol, transport, discovery, Date.now());
      if (address === undefined) {
        // Every replica refused or was busy this round: wait, then try them all again.
        failedThisRound?.clear();
        lastError ??= new FunkerError("unavailable", `every replica of "${name}" is marked unreachable`, { mayHaveRun: false });
        const retryAt = discovery.firstRetryAt(addresses, Date.now());
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
        outcome = await transport.attempt(address, request);
      } finally {
        this.endAttempt(address.key);
      }
      if (outcome.ok) {
        discovery.markAlive(address);
        return outcome.value;
      }
      failed = { address, outcome };
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
  private pick(
    addresses: readonly Address[],
    failedThisRound: Set<string> | undefined,
    protocol: CallProtocol,
    transport: AttemptTransport,
    discovery: Discovery,
    now: number,
  ): Address | undefined {
    const count = addresses.length;
    if (count === 1) {
      const only = addresses[0] as Address;
      return failedThisRound?.has(only.key) === true || discovery.isDead(only, now) ? undefined : only;
    }
    const start = this.nextPick % count;
    this.nextPick = start + 1;
    let best: Address | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (let offset = 0; offset < count; offset += 1) {
      const address = addresses[(start + offset) % count] as Address;
      if (failedThisRound?.has(address.key) === true || discovery.isDead(address, now)) continue;
      const inFlight = this.attemptsInFlight.size === 0 ? 0 : (this.attemptsInFlight.get(address.key) ?? 0);
      // Twice the in-flight count, less one for an idle connection ready to use.
      const score = 2 * inFlight + (protocol !== "legacy" && transport.hasIdle(address.key) ? 0 : 1);
      if (score === 0) return address;
      if (score < bestScore) {
        best = address;
        bestScore = score;
      }
    }
    return best;
  }
}

/** The autoscaler's wake address from the `autoscaler` option, else `FUNKER_AUTOSCALER`; undefined when turned off. */
function autoscalerAddress(option: string | false | undefined, variable: string | undefined): string | undefined {
  const chosen = option ?? (variable === undefined || variable.trim() === "" ? DEFAULT_AUTOSCALER_HOST : variable.trim());
  if (chosen === false || chosen === "off") return undefined;
  try {
    parseAddress(chosen, 1);
  } catch (error) {
    throw new TypeError(`${option === undefined ? "FUNKER_AUTOSCALER" : "autoscaler"}: ${(error as Error).message}`, { cause: error });
  }
  return chosen;
}
