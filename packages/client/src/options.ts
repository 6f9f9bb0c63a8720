
/** How a call that may be tried again is retried. */
export interface RetryPolicy {
  /**
   * How many times an idempotent call may be delivered to a handler in all.
   * Attempts that certainly did not reach a handler (refused, busy, DNS
   * failure) do not count: those are retried until the deadline. Default 3;
   * a call that is not idempotent is delivered at most once whatever this says.
   */
  maxAttempts: number;
  /** The ceiling of the first back-off, in ms; it doubles on each back-off. Default 50. */
  initialBackoffMs: number;
  /** The largest back-off ceiling, in ms. Default 1000. Each wait is random in [0, ceiling] ("full jitter"). */
  maxBackoffMs: number;
}

/**
 * Which wire format a call speaks. `"auto"` (the default) finds out per
 * function: Funker's framed protocol, or the 2017 format for a function
 * whose replicas do not answer the framed preface (PROTOCOL.md section 4).
 * `"framed"` and `"legacy"` pin it.
 */
export type CallProtocol = "auto" | "framed" | "legacy";

/** Settings a call may take, per call or as a client's defaults. */
export interface CallSettings {
  /**
   * The whole call's time limit in ms, retries and back-off included.
   * Default 60 000. It is sent to the handler as an absolute deadline.
   */
  timeout?: number;
  /** Marks the call safe to run more than once, so failures after delivery may be retried. */
  idempotent?: boolean;
  retry?: Partial<RetryPolicy>;
  /**
   * Default "auto": framed, or the 2017 format for a function that does not
   * answer the framed preface (a 2017 function). A client's `protocols`
   * and `FUNKER_ENDPOINTS` pin it per function; a call's own setting wins.
   */
  protocol?: CallProtocol;
  /** Caller metadata sent with a framed call (string keys to string values). */
  metadata?: Record<string, string>;
  /** The TCP port functions listen on when an address does not say. Default 9999. */
  port?: number;
  /**
   * How often the handler should prove it is alive during a framed call, in
   * ms; 0 turns heartbeats off. Default 5000. After
   * `HEARTBEAT_MISSES_BEFORE_DEAD` (3) intervals without any byte from the
   * handler, the call fails with `handler_crashed`.
   */
  heartbeatIntervalMs?: number;
}

/** Options of one call. */
export interface CallOptions extends CallSettings {
  /** Aborting sends a cancel frame (when the call was sent) and rejects with `cancelled`. */
  signal?: AbortSignal;
  /** W3C trace context; taken from the active OpenTelemetry span when not given. */
  traceparent?: string;
  tracestate?: string;
  /**
   * Addresses of this function for this call only (`host:port`, or `host`
   * with the default port), bypassing discovery.
   */
  endpoints?: string | readonly string[];
}

/** Options of a client: call defaults, plus discovery and connection settings. */
export interface ClientOptions extends CallSettings {
  /**
   * Known addresses of functions: either the `FUNKER_ENDPOINTS` format
   * (`add=127.0.0.1:7001,127.0.0.1:7002;echo=127.0.0.1:7003;*=gateway:9999`)
   * or a record from function name (or "*") to addresses. Merged over the
   * `FUNKER_ENDPOINTS` environment variable; names listed here win.
   */
  endpoints?: string | Readonly<Record<string, string | readonly string[]>>;
  /** Largest reply accepted, in bytes. Default `DEFAULT_MAX_PAYLOAD_BYTES` (8 MiB). */
  maxPayloadBytes?: number;
  /** Replaces the DNS look-ups (tests; custom discovery). */
  dns?: DnsResolver;
  /** How long DNS answers are reused, in ms. Default 1000. */
  dnsCacheMs?: number;
  /** How long one DNS look-up may take before it counts as failed, in ms. Default 1000. */
  lookupTimeoutMs?: number;
  /**
   * How long a new connection may take to be established, in ms. Default
   * 1000. A replica that vanished while its address lingers in DNS can drop
   * connection attempts silently; past this limit the address is skipped and
   * the call, which was not sent, goes to another replica.
   */
  connectTimeoutMs?: number;
  /**
   * The longest an address that keeps refusing connections is skipped, in ms.
   * Default 1000. The first refusal skips it for a tenth of this (100 ms), so
   * a restarting single-shot replica is soon tried again; each further
   * refusal in a row doubles the skip, up to this; an answer resets it.
   */
  deadAddressMs?: number;
  /** How long a name that resolves nowhere is retried before `not_found`, in ms. Default 2000. */
  notFoundGraceMs?: number;
  /**
   * Where to ask for a replica of a function that has none (scaled to zero):
   * the autoscaler's wake port, `host` or `host:port` (the autoscaler
   * README, *The wake port*). Default `FUNKER_AUTOSCALER`, else
   * `funker-autoscaler:9997`, the service `funker deploy` adds with
   * `autoscale: true`. `false` (or `FUNKER_AUTOSCALER=off`): never ask.
   */
  autoscaler?: string | false;
  /** How long a kept connection may sit idle before it is closed, in ms. Default 4000. */
  idleConnectionTimeoutMs?: number;
  /** Most idle connections kept per address. Default 16. */
  maxIdleConnectionsPerAddress?: number;
  /**
   * Protocols pinned per function name (`{ "old-add": "legacy" }`), over the
   * client's `protocol` and `FUNKER_ENDPOINTS` (`old-add@legacy`).
   */
  protocols?: Readonly<Record<string, CallProtocol>>;
  /**
   * How long a new connection to a replica whose protocol is not known yet
   * waits for the handler's HELLO before the function is taken for a 2017
   * one, in ms. Default 1000. A Funker handler sends it as soon as it reads
   * the preface, so only a stalled replica comes near this.
   */
  helloTimeoutMs?: number;
  /**
   * Shared keys, one per line: every call is signed with the first
   * (PROTOCOL.md section 6.8), for handlers that accept only signed calls.
   * Prefer `secretFile`. Default: `FUNKER_SECRET_FILE`, else `FUNKER_SECRET`.
   * A client with keys never calls a function in a format that cannot carry
   * a signature (the 2017 format, protocol version 1).
   */
  secret?: string;
  /** A file of shared keys, one per line (a Docker secret under /run/secrets); re-read when it changes. */
  secretFile?: string;
  /**
   * Key files per function name, over `secretFile` for those functions
   * (`{ payments: "/run/secrets/payments-key" }`). Default: `FUNKER_SECRET_FILES`
   * (`payments=/run/secrets/payments-key;…`).
   */
  secretFiles?: Readonly<Record<string, string>>;
}

/**
 * The DNS look-ups discovery needs. Both return addresses (IPv4 or IPv6
 * text); a name that does not exist is an empty array or a rejection whose
 * `code` is `ENOTFOUND` or `ENODATA`; any other rejection is a DNS failure,
 * retried until the deadline. Each must stop when `signal` aborts (a look-up
 * that hangs is abandoned at the look-up timeout).
 */
export interface DnsResolver {
  /** DNS records of a name, A and AAAA: used for Swarm's `tasks.<name>`, one address per replica. */
  resolveAll(hostname: string, signal: AbortSignal): Promise<readonly string[]>;
  /** The system look-up (getaddrinfo: /etc/hosts, Compose service names, virtual IPs). */
  lookup(hostname: string, signal: AbortSignal): Promise<readonly string[]>;
}
