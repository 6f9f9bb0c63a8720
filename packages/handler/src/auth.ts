import { FunkerError } from "@funker/protocol";
import type { CallFrame } from "@funker/protocol";
import { digestArguments, macMatches } from "@funker/node-utils";
import type { KeyRing } from "@funker/node-utils";

/**
 * Signed calls (PROTOCOL.md section 6.8), checked before anything else of a
 * call is looked at: unsigned, an unknown key, a MAC that does not match, a
 * signature too far from this replica's clock, or one this replica already
 * accepted, each get `unauthenticated`, and the function does not run.
 *
 * The replay window is this process's own: a single-shot or fresh replica
 * starts with an empty one, so a captured call can be replayed to another
 * replica within the skew. What bounds that is the short skew and the
 * deadline and function name under the MAC: a replay never outlives the
 * original call's deadline and never reaches another function.
 */
export class CallAuthenticator {
  private readonly window: ReplayWindow;

  constructor(
    readonly keys: KeyRing,
    private readonly skewMs: number,
    windowSize: number,
  ) {
    this.window = new ReplayWindow(windowSize);
  }

  /** Undefined when the call may run; else the refusal to send. Never names or reveals a key's secret. */
  check(call: CallFrame, now: number): FunkerError | undefined {
    const auth = call.auth;
    if (auth === undefined) return refused("this function accepts only signed calls, and the call carries no signature");
    const key = this.keys.find(auth.keyId, now);
    if (key === undefined) return refused(`the call is signed with key ${auth.keyId}, which this replica does not hold`);
    if (!macMatches(key, call, auth, digestArguments(call.body))) {
      return refused(`the call's signature does not match under key ${auth.keyId}: the call was changed in transit, or signed with another key of the same id`);
    }
    const offsetMs = auth.timestamp - now;
    if (!(Math.abs(offsetMs) <= this.skewMs)) {
      return refused(
        `the call was signed ${formatSeconds(Math.abs(offsetMs))} ${offsetMs < 0 ? "before" : "after"} this replica's clock, beyond the allowed skew of ${formatSeconds(this.skewMs)}`,
      );
    }
    const replay = this.window.admit(`${auth.keyId}\u0000${auth.timestamp}\u0000${call.id}`, auth.timestamp, now - this.skewMs);
    if (replay === "seen") return refused(`the call repeats a signed call (id "${call.id}") that this replica already accepted`);
    if (replay === "forgotten") return refused("the call was signed before the oldest signed call this replica still remembers (its replay window is full): sign it again");
    return undefined;
  }
}

function refused(message: string): FunkerError {
  return new FunkerError("unauthenticated", message, { mayHaveRun: false });
}

function formatSeconds(milliseconds: number): string {
  return `${(milliseconds / 1_000).toFixed(1)} s`;
}

/**
 * The signed calls accepted within the skew, at most `capacity` of them.
 * Entries leave in arrival order once signed before the skew began, or when
 * the window is full; `forgottenUpTo` then rises to the newest signing time
 * that left, and a call signed at or before it is refused: a replay of a
 * forgotten call carries its original (signed) time, so it is caught too,
 * and memory stays bounded whatever the rate.
 */
class ReplayWindow {
  private readonly entries = new Map<string, number>();
  private forgottenUpTo = Number.NEGATIVE_INFINITY;

  constructor(private readonly capacity: number) {}

  admit(key: string, signedAt: number, skewStart: number): "new" | "seen" | "forgotten" {
    for (const [oldKey, oldSignedAt] of this.entries) {
      if (oldSignedAt >= skewStart && this.entries.size < this.capacity) break;
      this.entries.delete(oldKey);
      if (oldSignedAt > this.forgottenUpTo) this.forgottenUpTo = oldSignedAt;
    }
    if (this.entries.has(key)) return "seen";
    if (signedAt <= this.forgottenUpTo) return "forgotten";
    this.entries.set(key, signedAt);
    return "new";
  }
}
