import type { CallAuthenticator } from "./auth.js";
import type { CallRecord } from "./call-record.js";
import type { HardTimeout } from "./hard-timeout.js";
import type { CallDescription } from "./context.js";
import type { AnyHandlerFunction } from "./invoke.js";
import type { ResolvedOptions } from "./options.js";

/**
 * What a connection needs from whoever accepted it. The listener (single-shot
 * or reuse mode) and a fresh-mode process serving a call its supervisor
 * accepted each provide one; the connection logic stays the same.
 */
export interface ConnectionHost {
  readonly options: ResolvedOptions;
  readonly fn: AnyHandlerFunction;
  /** Checks signed calls when the replica has keys: one per process, since it holds the replay window. */
  readonly authenticator: CallAuthenticator | undefined;
  /** Takes a slot for `call` (read, not yet run); false when every slot is busy. */
  tryStartCall(call: CallDescription): boolean;
  /**
   * Whether the caller was accepted before this process saw the connection
   * (a fresh-mode supervisor sends the HELLO, or version 1's first
   * heartbeat, itself): the connection then does not send them again.
   */
  readonly acceptedForIt?: boolean;
  /**
   * Gives back the slot taken by `tryStartCall`: once the function's work is
   * over (it returned, its promise settled, it called back), not when its
   * call was answered. A body that ignores its abort signal keeps its slot.
   */
  endCall(call: CallDescription): void;
  /**
   * The body of `call`, answered already (its deadline, a cancel, a
   * disconnect: `reason`), still runs `drainTimeout` later. Its slot stays
   * held until `endCall`. Absent where the process is the slot (fresh).
   */
  bodyOverran?(call: CallDescription, reason: unknown): void;
  /** Holds each call's deadline from outside the event loop (`hardTimeout`); absent when off, and in fresh mode. */
  readonly hardTimeout?: HardTimeout | undefined;
  /** Logs the call and updates the server's state. */
  record(record: CallRecord): void;
  /** Whether a framed caller may keep this connection for another call (reuse mode, not shutting down). */
  mayKeepConnection(): boolean;
}
