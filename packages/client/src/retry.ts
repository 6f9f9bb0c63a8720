import { FunkerError } from "@funker/protocol";
import type { RetryPolicy } from "./options.js";

/**
 * The retry decision, pure: what a call does after an attempt failed. The
 * retry loop (client.ts) asks this and nothing else, and fakes run through
 * the same loop, so the policy lives here and in `errorCodeInfo` alone.
 */

/** What a call has been through, as far as retrying is concerned. */
export interface RetryState {
  /** Whether some attempt may have run the function. */
  readonly delivered: boolean;
  /** Attempts that may have run the function. */
  readonly deliveries: number;
}

export const NOT_YET_DELIVERED: RetryState = { delivered: false, deliveries: 0 };

/** What the caller declared about its call. */
export interface RetryTerms {
  readonly idempotent: boolean;
  readonly policy: RetryPolicy;
}

/**
 * - `elsewhere`: nothing ran; try another replica at once (the loop skips this
 *   one for the rest of the round, and waits only once every replica failed);
 * - `back-off`: it may have run, but the caller allows another delivery: wait, then try again;
 * - `fail`: end the call with `error`.
 */
export type NextStep =
  | { readonly kind: "elsewhere"; readonly state: RetryState }
  | { readonly kind: "back-off"; readonly state: RetryState }
  | { readonly kind: "fail"; readonly error: FunkerError };

/**
 * The step after an attempt failed with `error`. A failure that certainly
 * did not run the function (`mayHaveRun` false) moves on when its code's
 * rule is "always", and ends the call otherwise; one that may have run is a
 * delivery, tried again only for an idempotent call whose code allows it,
 * up to `maxAttempts` deliveries in all.
 */
export function nextStep(error: FunkerError, state: RetryState, terms: RetryTerms): NextStep {
  if (!error.mayHaveRun) {
    if (error.retry === "always") return { kind: "elsewhere", state };
    return { kind: "fail", error: state.delivered ? afterDelivery(error) : error };
  }
  const deliveries = state.deliveries + 1;
  if (terms.idempotent && error.retry !== "never" && deliveries < terms.policy.maxAttempts) {
    return { kind: "back-off", state: { delivered: true, deliveries } };
  }
  return { kind: "fail", error };
}

/**
 * A failure of a later attempt that did not run the function, once an
 * earlier attempt may have: the call as a whole may have run.
 */
export function afterDelivery(error: FunkerError): FunkerError {
  if (error.mayHaveRun) return error;
  return new FunkerError(error.code, error.message, { cause: error.cause, data: error.data, mayHaveRun: true, remote: error.remote });
}

/**
 * The wait before the next try, "full jitter": random between 0 and a
 * ceiling that doubles with each back-off, from `initialBackoffMs` up to
 * `maxBackoffMs`, so that callers who failed together do not retry together.
 */
export function backoffDelay(policy: RetryPolicy, backoffs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(backoffs, 30));
  return random() * ceiling;
}
