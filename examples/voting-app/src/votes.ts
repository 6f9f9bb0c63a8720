import { FunkerError } from "@funker/protocol";

/**
 * The two choices, as the seed's app named them: a vote is `"a"` or `"b"`,
 * shown as OPTION_A and OPTION_B (Cats and Dogs unless the environment says
 * otherwise). The database stores the letter, so relabelling keeps the votes.
 */
export const VOTE_VALUES = ["a", "b"] as const;

export type VoteValue = (typeof VOTE_VALUES)[number];

/** How each choice is shown. */
export type OptionLabels = Readonly<Record<VoteValue, string>>;

/** Labels are shown on every page: a bound keeps a mistaken variable from filling it. */
const MAX_LABEL_LENGTH = 40;

/** OPTION_A and OPTION_B, as the seed's web page read them; Cats and Dogs by default. */
export function optionLabels(environment: NodeJS.ProcessEnv = process.env): OptionLabels {
  const label = (name: string, fallback: string): string => {
    const value = environment[name]?.trim();
    return value === undefined || value === "" ? fallback : value.slice(0, MAX_LABEL_LENGTH);
  };
  return { a: label("OPTION_A", "Cats"), b: label("OPTION_B", "Dogs") };
}

/** A vote as `process-vote` receives it, in the seed's shape. */
export interface Vote {
  voter_id: string;
  vote: VoteValue;
}

/** What `process-vote` answers: the vote, and whether it is stored already (strict) or being stored (background). */
export interface VoteReceipt extends Vote {
  stored: boolean;
}

/** The counts the results page shows: every choice, zero included. */
export interface Tally {
  counts: Record<VoteValue, number>;
  total: number;
}

/**
 * Voter ids are the web service's cookie (a random hex string, as the
 * seed's), but any caller may send one: the bound keeps them within the
 * column (VARCHAR(255)) and out of anything surprising.
 */
const VOTER_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

interface Issue {
  message: string;
  path: string[];
}

/**
 * Checks a vote: `{ voter_id, vote }`, the vote `"a"` or `"b"` (without
 * regard to case or surrounding spaces). Anything else is refused with
 * `bad_arguments`, listing every problem as the handler lists a schema's
 * issues, so callers read one shape either way.
 */
export function normaliseVote(args: unknown): Vote {
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new FunkerError("bad_arguments", "a vote is an object { voter_id, vote }", { data: { issues: [{ message: "expected an object", path: [] }] } });
  }
  const { voter_id: voter, vote } = args as Record<string, unknown>;
  const issues: Issue[] = [];
  if (typeof voter !== "string" || !VOTER_PATTERN.test(voter)) {
    issues.push({ message: "voter_id must be 8 to 64 letters, digits, '-' or '_'", path: ["voter_id"] });
  }
  const value = typeof vote === "string" ? vote.trim().toLowerCase() : undefined;
  if (value === undefined || !(VOTE_VALUES as readonly string[]).includes(value)) {
    issues.push({ message: `vote must be one of ${VOTE_VALUES.join(", ")}`, path: ["vote"] });
  }
  if (issues.length > 0) throw new FunkerError("bad_arguments", issues.map((issue) => issue.message).join("; "), { data: { issues } });
  return { voter_id: voter as string, vote: value as VoteValue };
}

/** What the store needs of a Postgres connection: `pg`'s Client and Pool both have it. */
export interface Queryable {
  query<Row extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

/**
 * The seed's table, as its `process-vote` created it: one row per voter, the
 * voter's id unique, so a second vote replaces the first.
 */
export const CREATE_VOTES_TABLE = "CREATE TABLE IF NOT EXISTS votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)";

/** Postgres's codes for two sessions creating the same table at once (the loser's IF NOT EXISTS is no guard), and for a missing table. */
const UNIQUE_VIOLATION = "23505";
const DUPLICATE_TABLE = "42P07";
const UNDEFINED_TABLE = "42P01";

function postgresCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}

/**
 * Creates the table when it is missing. Replicas that start on an empty
 * database race to create it; the one that loses gets a unique violation on
 * Postgres's catalogue, which only means the table is there now.
 */
export async function ensureVotesTable(db: Queryable): Promise<void> {
  try {
    await db.query(CREATE_VOTES_TABLE);
  } catch (error) {
    const code = postgresCode(error);
    if (code !== UNIQUE_VIOLATION && code !== DUPLICATE_TABLE) throw error;
  }
}

/**
 * Stores a vote: the seed's INSERT, or UPDATE when the voter has voted
 * before, as one statement, so two replicas storing the same voter's votes
 * at once cannot fail on the unique key (the seed's INSERT then UPDATE
 * could). Storing the same vote twice changes nothing, so a call that is
 * retried counts once.
 */
export async function storeVote(db: Queryable, vote: Vote): Promise<void> {
  await ensureVotesTable(db);
  await db.query("INSERT INTO votes (id, vote) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote", [vote.voter_id, vote.vote]);
}

/** The counts per choice. Before the first vote there is no table yet, and every count is zero. */
export async function countVotes(db: Queryable): Promise<Tally> {
  const counts = { a: 0, b: 0 };
  try {
    const { rows } = await db.query<{ vote: string; count: number }>("SELECT vote, COUNT(id)::int AS count FROM votes GROUP BY vote");
    // Values other than a and b (written by hand, or by another caller) are not choices on the ballot.
    for (const row of rows) if (row.vote === "a" || row.vote === "b") counts[row.vote] = row.count;
  } catch (error) {
    if (postgresCode(error) !== UNDEFINED_TABLE) throw error;
  }
  return { counts, total: counts.a + counts.b };
}

/** Percentages rounded to whole numbers; 0 for every choice before the first vote. */
export function percentages(tally: Tally): Record<VoteValue, number> {
  const of = (count: number): number => (tally.total === 0 ? 0 : Math.round((count / tally.total) * 100));
  return { a: of(tally.counts.a), b: of(tally.counts.b) };
}
