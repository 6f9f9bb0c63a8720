import { promises as dnsPromises } from "node:dns";
import { FunkerError } from "@funker/protocol";
import type { CallProtocol, DnsResolver } from "./options.js";

/** A replica's address. `key` ("host:port") names it in caches and pools. */
export interface Address {
  readonly host: string;
  readonly port: number;
  readonly key: string;
}

const NOT_FOUND_ERRNOS = new Set(["ENOTFOUND", "ENODATA", "NXDOMAIN"]);

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && NOT_FOUND_ERRNOS.has(code);
}

/** The resolver used unless a client is given another: Node's c-ares resolver and getaddrinfo. */
export function systemDnsResolver(lookupTimeoutMs: number): DnsResolver {
  return {
    async resolveAll(hostname, signal) {
      // A resolver per look-up, so an abandoned look-up can be cancelled
      // without cancelling anyone else's.
      const resolver = new dnsPromises.Resolver({ timeout: Math.max(50, Math.floor(lookupTimeoutMs / 2)), tries: 2 });
      const cancel = (): void => resolver.cancel();
      signal.addEventListener("abort", cancel, { once: true });
      try {
        const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
        const addresses = [
          ...(v4.status === "fulfilled" ? v4.value : []),
          ...(v6.status === "fulfilled" ? v6.value : []),
        ];
        if (addresses.length > 0) return addresses;
        for (const outcome of [v4, v6]) {
          if (outcome.status === "rejected" && !isNotFound(outcome.reason)) throw outcome.reason;
        }
        return [];
      } finally {
        signal.removeEventListener("abort", cancel);
      }
    },
    async lookup(hostname) {
      // getaddrinfo runs on the thread pool and cannot be cancelled; the
      // caller stops waiting for it at the look-up timeout.
      const answers = await dnsPromises.lookup(hostname, { all: true });
      return answers.map((answer) => answer.address);
    },
  };
}

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`. */
export function parseAddress(text: string, defaultPort: number): Address {
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  if (trimmed.startsWith("[")) {
    const close = trimmed.indexOf("]");
    if (close < 0) throw new TypeError(`invalid address "${text}": missing "]"`);
    host = trimmed.slice(1, close);
    const rest = trimmed.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw new TypeError(`invalid address "${text}"`);
      portText = rest.slice(1);
    }
  } else {
    const colon = trimmed.lastIndexOf(":");
    if (colon >= 0 && trimmed.indexOf(":") !== colon) {
      // A bare IPv6 address: no port can be told apart from it.
      host = trimmed;
    } else if (colon >= 0) {
      host = trimmed.slice(0, colon);
      portText = trimmed.slice(colon + 1);
    } else {
      host = trimmed;
    }
  }
  if (host === "") throw new TypeError(`invalid address "${text}": no host`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535 || (portText !== undefined && !/^\d+$/.test(portText))) {
    throw new TypeError(`invalid address "${text}": the port must be a number from 1 to 65535`);
  }
  return makeAddress(host, port);
}

export function makeAddress(host: string, port: number): Address {
  return { host, port, key: host.includes(":") ? `[${host}]:${port}` : `${host}:${port}` };
}

/** Addresses as written by a user, not yet given a default port. */
export type EndpointTable = Map<string, readonly string[]>;

/** Protocols pinned per function name (`name@legacy` in `FUNKER_ENDPOINTS`). */
export type ProtocolPins = Map<string, CallProtocol>;

const PINNABLE: readonly CallProtocol[] = ["auto", "framed", "legacy"];

/**
 * Parses the `FUNKER_ENDPOINTS` format: entries separated by `;`, each
 * `name=address,address`; `*` names the addresses used for any function not
 * listed. A name may pin its protocol, `name@legacy=address` or, without
 * addresses (found by DNS), `name@legacy`. Whitespace around parts is
 * ignored, and so are empty entries.
 */
export function parseEndpoints(text: string): { addresses: EndpointTable; protocols: ProtocolPins } {
  const table: EndpointTable = new Map();
  const protocols: ProtocolPins = new Map();
  for (const entry of text.split(";")) {
    if (entry.trim() === "") continue;
    const equals = entry.indexOf("=");
    const target = (equals < 0 ? entry : entry.slice(0, equals)).trim();
    const [name = "", protocol, ...rest] = target.split("@").map((part) => part.trim());
    if (protocol !== undefined) {
      if (!PINNABLE.includes(protocol as CallProtocol) || rest.length > 0 || name === "" || name === "*") {
        throw new TypeError(`invalid endpoints entry "${entry.trim()}": a protocol is pinned as name@auto, name@framed or name@legacy`);
      }
      protocols.set(name, protocol as CallProtocol);
      if (equals < 0) continue;
    }
    const addresses = (equals < 0 ? "" : entry.slice(equals + 1))
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part !== "");
    if (name === "" || addresses.length === 0) {
      throw new TypeError(`invalid endpoints entry "${entry.trim()}": expected name=host:port[,host:port…] or name@protocol`);
    }
    for (const address of addresses) parseAddress(address, 1);
    table.set(name, addresses);
  }
  return { addresses: table, protocols };
}

/** Turns the client's `endpoints` option into a table; checks every address. */
export function endpointTableFrom(option: string | Readonly<Record<string, string | readonly string[]>> | undefined): EndpointTable {
  if (option === undefined) return new Map();
  if (typeof option === "string") return parseEndpoints(option).addresses;
  const table: EndpointTable = new Map();
  for (const [name, value] of Object.entries(option)) {
    const addresses = typeof value === "string" ? value.split(",").map((part) => part.trim()).filter((part) => part !== "") : [...value];
    for (const address of addresses) parseAddress(address, 1);
    table.set(name, addresses);
  }
  return table;
}

/** What a look-up found. `final`: the name certainly does not exist (a fake's answer), so waiting for it is pointless. */
export type Resolution =
  | { kind: "found"; addresses: readonly Address[] }
  | { kind: "not_found"; final: boolean }
  | { kind: "failed"; error: FunkerError };

/** A name source's answer: hosts (addresses, or names a transport understands), none, or a failure to look. */
export type NameAnswer =
  | { kind: "found"; hosts: readonly string[] }
  | { kind: "not_found"; final: boolean }
  | { kind: "failed"; error: unknown };

/**
 * Where function names resolve: DNS on a Docker network (`DnsNameSource`),
 * or fakes in tests. A look-up never rejects, and ends by itself.
 */
export interface NameSource {
  lookUp(name: string): Promise<NameAnswer>;
}

export interface DiscoveryOptions {
  endpoints: EndpointTable;
  names: NameSource;
  cacheMs: number;
  /** The longest an address that keeps refusing is skipped. */
  deadAddressMs: number;
}

interface DeadAddress {
  until: number;
  skipMs: number;
}

/**
 * The first refusal skips an address for this fraction of `deadAddressMs`
 * (100 ms by default): a single-shot replica restarting is back within about
 * that, and skipping it for the full second would starve a small deployment.
 */
const FIRST_SKIP_FRACTION = 0.1;

interface CacheEntry {
  addresses: readonly Address[];
  expiresAt: number;
}

/** How long an expired answer may still stand in when a fresh look-up fails. */
const STALE_ANSWER_MS = 30_000;

/**
 * How long a name that resolved is taken for a function that exists: when
 * it resolves nowhere within this time, its replicas are restarting (a
 * single-shot replica under Swarm's default restart delay leaves
 * `tasks.<name>` empty for about 5 s), not gone. Ten minutes outlasts a
 * rolling update; a name seen longer ago is a name never seen.
 */
export const KNOWN_NAME_MS = 10 * 60_000;

/** Names remembered as found at once; the oldest is forgotten first. */
const MOST_KNOWN_NAMES = 4_096;

/**
 * Finds a function's replicas: explicit endpoints, then Swarm's
 * `tasks.<name>`, then `<name>`. Answers are cached briefly, concurrent
 * look-ups of a name are shared, and addresses that refused a connection are
 * skipped for a while: briefly after a first refusal, twice as long after
 * each further one in a row, up to `deadAddressMs`, until the address answers.
 */
export class Discovery {
  private readonly explicit = new Map<string, readonly Address[]>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<Resolution>>();
  private readonly dead = new Map<string, DeadAddress>();
  /** Name → when a look-up last found replicas for it. */
  private readonly lastFound = new Map<string, number>();

  constructor(private readonly options: DiscoveryOptions) {}

  /** The answer available without waiting: explicit endpoints or a fresh cache entry. */
  cached(name: string, port: number, now: number): readonly Address[] | undefined {
    const explicitKey = `${name}\u0000${port}`;
    const explicit = this.explicit.get(explicitKey);
    if (explicit !== undefined) return explicit;
    const written = this.options.endpoints.get(name) ?? this.options.endpoints.get("*");
    if (written !== undefined) {
      const addresses = written.map((text) => parseAddress(text, port));
      this.explicit.set(explicitKey, addresses);
      return addresses;
    }
    const entry = this.cache.get(explicitKey);
    if (entry !== undefined && entry.expiresAt > now) return entry.addresses;
    return undefined;
  }

  /** Looks the name up in DNS (shared between concurrent callers). Never rejects. */
  lookUp(name: string, port: number): Promise<Resolution> {
    const key = `${name}\u0000${port}`;
    let pending = this.inflight.get(key);
    if (pending === undefined) {
      pending = this.lookUpUncached(name, port)
        // Resolutions carry failures as values, so that no caller waits on a rejection it does not expect.
        .catch((error: unknown): Resolution => ({
          kind: "failed",
          error: new FunkerError("connection_failed", `looking up "${name}" failed: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
            mayHaveRun: false,
          }),
        }))
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** The address refused a connection: skip it, for longer if it already did. */
  markDead(address: Address, now: number): void {
    const longest = this.options.deadAddressMs;
    const previous = this.dead.get(address.key);
    // Refusals of attempts that raced each other (concurrent calls reaching a
    // single-shot replica as it took its one call) are one refusal, not a streak.
    if (previous !== undefined && previous.until > now) return;
    const skipMs = previous === undefined ? longest * FIRST_SKIP_FRACTION : Math.min(previous.skipMs * 2, longest);
    this.dead.set(address.key, { until: now + skipMs, skipMs });
  }

  /** The address answered: a later refusal counts as a first one again. */
  markAlive(address: Address): void {
    if (this.dead.size > 0) this.dead.delete(address.key);
  }

  /**
   * When the first of these addresses stops being skipped, or undefined if
   * one is not skipped now: a caller that found every replica skipped waits
   * for exactly that, rather than a blind back-off that would leave a
   * restarted replica idle.
   */
  firstRetryAt(addresses: readonly Address[], now: number): number | undefined {
    let earliest = Number.POSITIVE_INFINITY;
    for (const address of addresses) {
      const entry = this.dead.get(address.key);
      if (entry === undefined || entry.until <= now) return undefined;
      if (entry.until < earliest) earliest = entry.until;
    }
    return earliest;
  }

  /** When `name` last resolved to replicas, if within `KNOWN_NAME_MS`: a name that resolves nowhere now is then restarting. */
  foundAt(name: string, now: number): number | undefined {
    const at = this.lastFound.get(name);
    return at !== undefined && now - at < KNOWN_NAME_MS ? at : undefined;
  }

  isDead(address: Address, now: number): boolean {
    if (this.dead.size === 0) return false;
    const entry = this.dead.get(address.key);
    if (entry === undefined) return false;
    if (entry.until > now) return true;
    // A streak of refusals is forgotten once the address has gone untried for the longest skip.
    if (now >= entry.until + this.options.deadAddressMs) this.dead.delete(address.key);
    return false;
  }

  private async lookUpUncached(name: string, port: number): Promise<Resolution> {
    const key = `${name}\u0000${port}`;
    const answer = await this.options.names.lookUp(name);
    const now = Date.now();
    if (answer.kind === "found" && answer.hosts.length > 0) {
      this.lastFound.delete(name);
      if (this.lastFound.size >= MOST_KNOWN_NAMES) this.lastFound.delete(this.lastFound.keys().next().value as string);
      this.lastFound.set(name, now);
      const resolved = answer.hosts.map((host) => makeAddress(host, port));
      this.cache.set(key, { addresses: resolved, expiresAt: now + this.options.cacheMs });
      return { kind: "found", addresses: resolved };
    }
    if (answer.kind !== "failed") {
      this.cache.delete(key);
      return { kind: "not_found", final: answer.kind === "not_found" && answer.final };
    }
    // Swarm's DNS sometimes hangs or fails for a moment; a recent answer is
    // a better guess than none (dead addresses in it are refused and skipped).
    const stale = this.cache.get(key);
    if (stale !== undefined && stale.expiresAt + STALE_ANSWER_MS > now) return { kind: "found", addresses: stale.addresses };
    const reason = answer.error instanceof Error ? answer.error.message : String(answer.error);
    return {
      kind: "failed",
      error: new FunkerError("connection_failed", `looking up "${name}" failed: ${reason}`, { cause: answer.error, mayHaveRun: false }),
    };
  }
}

/**
 * Names on a Docker network: Swarm's `tasks.<name>` (one address per
 * replica), else `<name>` through the system look-up (Compose service names,
 * /etc/hosts, a virtual IP). Both start at once; a look-up that takes longer
 * than `lookupTimeoutMs` counts as failed.
 */
export class DnsNameSource implements NameSource {
  constructor(
    private readonly dns: DnsResolver,
    private readonly lookupTimeoutMs: number,
  ) {}

  async lookUp(name: string): Promise<NameAnswer> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.lookupTimeoutMs);
    // Callers wait on their own deadlines; this timer only ends the look-up.
    timer.unref();
    try {
      const { dns } = this;
      const tasks = settle(() => dns.resolveAll(`tasks.${name}`, controller.signal), controller.signal);
      const plain = settle(() => dns.lookup(name, controller.signal), controller.signal);
      const tasksOutcome = await tasks;
      if (tasksOutcome.ok && tasksOutcome.value.length > 0) return { kind: "found", hosts: tasksOutcome.value };
      let failure: unknown;
      if (!tasksOutcome.ok && !isNotFound(tasksOutcome.error)) failure = tasksOutcome.error;
      const plainOutcome = await plain;
      if (plainOutcome.ok && plainOutcome.value.length > 0) return { kind: "found", hosts: plainOutcome.value };
      if (!plainOutcome.ok && !isNotFound(plainOutcome.error)) failure ??= plainOutcome.error;
      // DNS cannot tell "never existed" from "not created yet": never final.
      return failure === undefined ? { kind: "not_found", final: false } : { kind: "failed", error: failure };
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Starts a look-up and waits for it, or for the look-up timeout, whichever
 * comes first. A resolver (a user's, through the `dns` option) that throws
 * or returns no promise counts as a failed look-up, never as a rejection.
 */
function settle<T>(lookUp: () => Promise<T>, signal: AbortSignal): Promise<Settled<T>> {
  let promise: Promise<T>;
  try {
    promise = Promise.resolve(lookUp());
  } catch (error) {
    promise = Promise.reject(error);
  }
  return new Promise((resolve) => {
    const onAbort = (): void => {
      const error = new Error("the DNS look-up timed out") as Error & { code: string };
      error.code = "ETIMEOUT";
      resolve({ ok: false, error });
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve({ ok: true, value });
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        resolve({ ok: false, error });
      },
    );
  });
}
