import type { CallAuthenticator } from "./auth.js";
import type { CallRecord } from "./call-record.js";
import type { AnyHandlerFunction } from "./invoke.js";
import type { ResolvedOptions } from "./options.js";

/**
 * What a connection needs from whoever accepted it. The listener (single-shot
 * or reuse mode), and later a process that receives an accepted socket from a
 * supervisor, each provide one; the connection logic stays the same.
 */
export interface ConnectionHost {
  readonly options: ResolvedOptions;
  readonly fn: AnyHandlerFunction;
  /** Checks signed calls when the replica has keys: one per process, since it holds the replay window. */
  readonly authenticator: CallAuthenticator | undefined;
  /** Takes a slot for a call; false when every slot is busy. */
  tryStartCall(): boolean;
  /** Gives back the slot taken by `tryStartCall`. */
  endCall(): void;
  /** Logs the call and updates the server's state. */
  record(record: CallRecord): void;
  /** Whether a framed caller may keep this connection for another call (reuse mode, not shutting down). */
  mayKeepConnection(): boolean;
}
