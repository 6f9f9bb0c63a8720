import { FunkerError } from "@funker/protocol";
import { runLegacy } from "./connection.js";
import type { AttemptOutcome, AttemptRequest, AttemptTransport } from "./attempt.js";
import type { Address, NameSource } from "./discovery.js";
import { ConnectionPool } from "./pool.js";
import { ProtocolMemory } from "./protocol-memory.js";

/**
 * How long a function found to speak only the 2017 format is called in it
 * after the last 2017 reply: five minutes outlasts a rolling update, and a
 * function whose 2017 replicas are all gone then speaks framed again.
 */
const LEGACY_MEMORY_MS = 5 * 60_000;

/**
 * The network: framed calls over pooled connections, legacy calls on a
 * connection each; an "auto" call goes in the format the function was found
 * to speak (PROTOCOL.md section 4).
 */
export class NetworkTransport implements AttemptTransport {
  private readonly pool: ConnectionPool;
  private readonly memory = new ProtocolMemory(LEGACY_MEMORY_MS);

  constructor(
    private readonly maxPayloadBytes: number,
    idleConnectionTimeoutMs: number,
    maxIdleConnectionsPerAddress: number,
    helloTimeoutMs: number,
  ) {
    this.pool = new ConnectionPool({ maxPayloadBytes, memory: this.memory, helloTimeoutMs }, idleConnectionTimeoutMs, maxIdleConnectionsPerAddress);
  }

  attempt(address: Address, request: AttemptRequest): Promise<AttemptOutcome> {
    const legacy = request.protocol === "legacy" || (request.protocol === "auto" && this.memory.speaksLegacy(request.name, Date.now()));
    if (!legacy) {
      if (request.sign !== undefined && this.memory.versionAt(address.key) === 1) return Promise.resolve(unsignable(request, `${address.key} speaks protocol version 1`));
      return this.pool.acquire(address).run(request);
    }
    if (request.sign !== undefined) return Promise.resolve(unsignable(request, `"${request.name}" speaks only the 2017 format`));
    return runLegacy(address, request, this.maxPayloadBytes, this.memory);
  }

  hasIdle(addressKey: string): boolean {
    return this.pool.hasIdle(addressKey);
  }

  close(): void {
    this.pool.close();
  }
}

/** How a call ended, after all its attempts: what its caller received. */
export type CallEnd = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: FunkerError };

/** A stand-in for the network: where names resolve, and where attempts go. */
export interface Network {
  readonly names: NameSource;
  readonly transport: AttemptTransport;
  /** Told once per call that passed the client's checks, when it ends (whether or not an attempt was made): fakes record outcomes. */
  readonly callEnded?: (request: AttemptRequest, end: CallEnd) => void;
}

/**
 * Kept on a global symbol rather than in a module variable, so that two
 * copies of this package in one process (a test harness and the app it
 * tests resolving different versions) still share one network.
 */
const NETWORK_KEY = Symbol.for("funker.client.network");

type NetworkHolder = Record<symbol, Network | undefined>;

export function installedNetwork(): Network | undefined {
  return (globalThis as unknown as NetworkHolder)[NETWORK_KEY];
}

export function setInstalledNetwork(network: Network | undefined): void {
  (globalThis as unknown as NetworkHolder)[NETWORK_KEY] = network;
}

/** A signed call to a replica whose format carries no signature (the 2017 format, version 1): refused before anything is sent. */
export function unsignable(request: AttemptRequest, speaks: string): AttemptOutcome {
  return {
    ok: false,
    addressDead: false,
    error: new FunkerError("protocol_error", `${speaks}, which cannot carry a signature; a client with a secret never sends it a call (the call to "${request.name}" was not sent)`, {
      mayHaveRun: false,
    }),
  };
}
