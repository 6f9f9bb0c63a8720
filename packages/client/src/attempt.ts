import type { CallAuth, CallHeader, FunkerError } from "@funker/protocol";
import type { Address } from "./discovery.js";
import type { CallProtocol } from "./options.js";

/**
 * One attempt of a call: its header, already checked, and its arguments,
 * already encoded. Each attempt frames them in the wire format its replica
 * speaks (framed version 2 or 1, or the 2017 format).
 */
export interface AttemptRequest {
  readonly name: string;
  readonly id: string;
  /** "auto": the format the function speaks, as the transport finds out; "framed" or "legacy" when pinned. */
  readonly protocol: CallProtocol;
  /** The call header, checked with `checkCallHeader` for version 2 (the id, function and deadline are the call's). */
  readonly header: CallHeader;
  /** The arguments' JSON text, checked against the payload limit. */
  readonly body: Uint8Array;
  /** Epoch ms. */
  readonly deadline: number;
  /** 0 when the handler sends no heartbeats. */
  readonly heartbeatIntervalMs: number;
  readonly signal: AbortSignal | undefined;
  /** How long a new connection may take to be established before the address counts as unreachable. */
  readonly connectTimeoutMs: number;
  /** What the caller declared; not on the wire, but a transport that records calls (fakes) reports it. */
  readonly idempotent: boolean;
  /**
   * Signs the call now, when the client has keys for the function: each
   * attempt is signed as it is written, so a call retried for longer than a
   * handler's clock skew still arrives fresh. Only version 2 carries a signature.
   */
  readonly sign: (() => CallAuth) | undefined;
}

/**
 * How one attempt ended. `addressDead`: nothing answers at that address now
 * (refused, unreachable, the connection dropped before acceptance), so the
 * retry loop skips it for a while.
 */
export type AttemptOutcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: FunkerError; readonly addressDead: boolean };

/**
 * Where a client's attempts go: one attempt of a call to one replica's
 * address. The network's transport is the default; `@funker/testing`'s fakes
 * are another, installed under every client (`installNetwork` in `./internal`), so that the
 * client's own picking, back-off and retry run over fakes as over sockets.
 * An attempt never rejects: every failure is an outcome, and it ends by the
 * request's deadline and signal.
 */
export interface AttemptTransport {
  attempt(address: Address, request: AttemptRequest): Promise<AttemptOutcome>;
  /** Whether an idle kept connection to the address is ready: the picker prefers such a replica. */
  hasIdle(addressKey: string): boolean;
  /** Releases what the transport keeps (idle connections). */
  close(): void;
}
