import pg from "pg";
import type { Queryable, Tally, Vote, VoteReceipt } from "./votes.js";
import { normaliseVote, storeVote } from "./votes.js";

/**
 * When `process-vote` replies:
 *
 * - `"strict"`: after the vote is stored. A voter told "counted" is counted;
 *   a replica that dies first leaves the caller an error, never a silent loss.
 * - `"background"`: at once, and the vote is stored after the reply, as the
 *   seed's function did ("return immediately so this function runs in the
 *   background"). The voter waits less, but a vote acknowledged before it is
 *   stored is lost if the replica or the database fails in between.
 */
export type WriteMode = "strict" | "background";

/** A connection for one call; the function closes it when the call's work is done. */
export type Connect = () => Promise<Queryable & { end(): Promise<void> }>;

/**
 * `process-vote`: checks a vote, then stores it in Postgres (an INSERT, or an
 * UPDATE when the voter has voted before), replying after the write or
 * before it according to `mode`. `onBackgroundError` hears of a write that
 * failed after its reply: nobody else can.
 */
export function createProcessVote(
  connect: Connect,
  mode: WriteMode,
  onBackgroundError: (error: unknown, vote: Vote) => void = () => undefined,
): (args: unknown) => Promise<VoteReceipt> {
  const store = async (vote: Vote): Promise<void> => {
    const db = await connect();
    try {
      await storeVote(db, vote);
    } finally {
      await db.end();
    }
  };
  return async (args) => {
    const vote = normaliseVote(args);
    if (mode === "strict") {
      await store(vote);
      return { ...vote, stored: true };
    }
    // Started before the reply and left running: a single-shot replica
    // exits once its work is done, so the write finishes after the voter has
    // the answer.
    store(vote).catch((error: unknown) => onBackgroundError(error, vote));
    return { ...vote, stored: false };
  };
}

/** `VOTE_WRITE`: `strict` or `background`. Anything else stops the function at start-up, rather than guessing. */
export function writeModeFrom(environment: NodeJS.ProcessEnv = process.env): WriteMode {
  const value = environment["VOTE_WRITE"] ?? "strict";
  if (value === "strict" || value === "background") return value;
  throw new Error(`VOTE_WRITE must be "strict" or "background", got ${JSON.stringify(value)}`);
}

/**
 * DATABASE_URL, required: a default such as localhost would be a different
 * database in every container, and votes would go nowhere.
 */
export function databaseUrlFrom(environment: NodeJS.ProcessEnv = process.env): string {
  const url = environment["DATABASE_URL"];
  if (url === undefined || url === "") throw new Error("DATABASE_URL is not set: it names the Postgres database the votes are kept in");
  return url;
}

/** A fresh `pg` connection per call: a single-shot replica serves one call, so a pool would serve one connection anyway. */
export function connectTo(url: string, connectionTimeoutMillis = 5_000): Connect {
  return async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis });
    // An error on an idle connection (the database restarting) must not be an uncaught exception.
    client.on("error", () => undefined);
    await client.connect();
    return client;
  };
}

/** The functions as the web service calls them, for a typed client. The seed's handler replies nothing (`null`). */
export type VotingFunctions = {
  "process-vote": (args: { voter_id: string; vote: string }) => VoteReceipt | null;
};

export type { Tally };
