import type { FunkerError } from "@funker/protocol";
import { runLegacy } from "./connection.js";
import type { AttemptOutcome, AttemptRequest, AttemptTransport } from "./attempt.js";
import type { Address, NameSource } from "./discovery.js";
import { ConnectionPool } from "./pool.js";

/** The network: framed calls over pooled connections, legacy calls on a connection each. */
export class NetworkTransport implements AttemptTransport {
  private readonly pool: ConnectionPool;

  constructor(
    private readonly maxPayloadBytes: number,
    idleConnectionTimeoutMs: number,
    maxIdleConnectionsPerAddress: number,
  ) {
    this.pool = new ConnectionPool(maxPayloadBytes, idleConnectionTimeoutMs, maxIdleConnectionsPerAddress);
  }

  attempt(address: Address, request: AttemptRequest): Promise<AttemptOutcome> {
    return request.protocol === "legacy" ? runLegacy(address, request, this.maxPayloadBytes) : this.pool.acquire(address).run(request);
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
