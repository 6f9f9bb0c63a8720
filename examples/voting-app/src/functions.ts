import type { Tally, VoteOutcome, VoteStore } from "./votes.js";
import { normaliseVote } from "./votes.js";

/**
 * `process-vote`: validates, normalises and records one vote. Recording is
 * idempotent per voter (a second vote of the same voter changes nothing), so
 * callers may mark the call `idempotent` and let the client retry it after a
 * crash.
 */
export function createProcessVote(store: VoteStore): (args: unknown) => Promise<VoteOutcome> {
  return async (args) => store.record(normaliseVote(args));
}

/** `tally`: the current counts, folded from the votes file. It takes no arguments and changes nothing. */
export function createTally(store: VoteStore): () => Promise<Tally> {
  return async () => store.tally();
}

/** The functions as the web service calls them, for a typed client. */
export type VotingFunctions = {
  "process-vote": (args: { voter: string; option: string }) => VoteOutcome;
  tally: (args?: Record<string, never>) => Tally;
};
