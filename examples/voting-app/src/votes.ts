import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { FunkerError } from "@funker/protocol";

/** The two choices on the ballot, keyed by the value a form sends. */
export const VOTING_OPTIONS = { cats: "Cats", dogs: "Dogs" } as const;

export type VotingOption = keyof typeof VOTING_OPTIONS;

/** A vote as `process-vote` receives it: whatever the web service (or any caller) sent. */
export interface VoteArguments {
  voter: string;
  option: string;
}

/** A vote that passed validation, as stored: one line of the votes file. */
export interface Vote {
  voter: string;
  option: VotingOption;
  /** Epoch ms when the vote was recorded. */
  at: number;
}

/** What `process-vote` answers: the vote counted now, or the voter's earlier vote that stands. */
export type VoteOutcome = { status: "recorded"; option: VotingOption } | { status: "duplicate"; option: VotingOption };

/** What `tally` answers: a count per option (every option present, zero included) and the total. */
export interface Tally {
  counts: Record<VotingOption, number>;
  total: number;
}

/**
 * Voter ids are the web service's cookie value (a UUID), but any caller may
 * send one: the bound keeps every stored line far below 4 KiB, so one
 * `write()` to a file opened with O_APPEND lands whole even when replicas
 * append at the same moment.
 */
const VOTER_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** The votes file inside VOTES_DIR: JSON lines, appended only, never rewritten. */
export const VOTES_FILE_NAME = "votes.jsonl";

interface Issue {
  message: string;
  path: string[];
}

/**
 * Checks and normalises a vote: the option is matched without regard to case
 * or surrounding spaces ("  Cats " counts for cats). Anything else is refused
 * with `bad_arguments`, listing every problem as the handler lists a schema's
 * issues, so callers read one shape either way.
 */
export function normaliseVote(args: unknown): Pick<Vote, "voter" | "option"> {
  const issues: Issue[] = [];
  if (typeof args !== "object" || args === null || Array.isArray(args)) {
    throw new FunkerError("bad_arguments", "a vote is an object { voter, option }", { data: { issues: [{ message: "expected an object", path: [] }] } });
  }
  const { voter, option } = args as Record<string, unknown>;
  if (typeof voter !== "string" || !VOTER_PATTERN.test(voter)) {
    issues.push({ message: "voter must be 8 to 64 letters, digits, '-' or '_'", path: ["voter"] });
  }
  const normalisedOption = typeof option === "string" ? option.trim().toLowerCase() : undefined;
  if (normalisedOption === undefined || !Object.hasOwn(VOTING_OPTIONS, normalisedOption)) {
    issues.push({ message: `option must be one of ${Object.keys(VOTING_OPTIONS).join(", ")}`, path: ["option"] });
  }
  if (issues.length > 0) {
    throw new FunkerError("bad_arguments", issues.map((issue) => issue.message).join("; "), { data: { issues } });
  }
  return { voter: voter as string, option: normalisedOption as VotingOption };
}

/**
 * Folds the votes file: the first vote of each voter stands, later ones are
 * ignored. De-duplication lives here, not only in `process-vote`'s check,
 * because two replicas may each check and append the same voter's vote at
 * the same moment: both lines are then in the file, and the fold still
 * counts one.
 */
export function foldVotes(text: string): { tally: Tally; firstVotes: Map<string, VotingOption> } {
  const firstVotes = new Map<string, VotingOption>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      // A line cut short by a crash mid-write (a full disk, a killed node):
      // it was never acknowledged to the voter, so it is not a vote.
      continue;
    }
    const { voter, option } = parsed as Partial<Vote>;
    if (typeof voter !== "string" || typeof option !== "string" || !Object.hasOwn(VOTING_OPTIONS, option)) continue;
    if (!firstVotes.has(voter)) firstVotes.set(voter, option as VotingOption);
  }
  const counts = Object.fromEntries(Object.keys(VOTING_OPTIONS).map((option) => [option, 0])) as Record<VotingOption, number>;
  for (const option of firstVotes.values()) counts[option] += 1;
  return { tally: { counts, total: firstVotes.size }, firstVotes };
}

/**
 * The votes of one folder. Every function replica opens it afresh per call
 * (single-shot replicas live for one call), so it holds no state of its own:
 * the file is the truth.
 */
export class VoteStore {
  readonly file: string;

  constructor(readonly directory: string) {
    this.file = join(directory, VOTES_FILE_NAME);
  }

  async read(): Promise<string> {
    try {
      return await readFile(this.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw error;
    }
  }

  async tally(): Promise<Tally> {
    return foldVotes(await this.read()).tally;
  }

  /**
   * Records a vote unless its voter has one already. The line is written
   * with one `write()` on an O_APPEND descriptor and flushed to disk before
   * the vote is acknowledged.
   */
  async record(vote: Pick<Vote, "voter" | "option">, now: number = Date.now()): Promise<VoteOutcome> {
    const earlier = foldVotes(await this.read()).firstVotes.get(vote.voter);
    if (earlier !== undefined) return { status: "duplicate", option: earlier };
    await mkdir(this.directory, { recursive: true });
    const line = Buffer.from(`${JSON.stringify({ voter: vote.voter, option: vote.option, at: now } satisfies Vote)}\n`);
    const file = await open(this.file, "a");
    try {
      const { bytesWritten } = await file.write(line);
      if (bytesWritten !== line.byteLength) throw new Error(`wrote ${bytesWritten} of ${line.byteLength} bytes to ${this.file}`);
      await file.datasync();
    } finally {
      await file.close();
    }
    // Another replica may have appended this voter's vote between the read
    // and the write: the fold decides, and the voter is told what counts.
    const counted = foldVotes(await this.read()).firstVotes.get(vote.voter) ?? vote.option;
    return counted === vote.option ? { status: "recorded", option: counted } : { status: "duplicate", option: counted };
  }
}

/**
 * The store named by VOTES_DIR. The functions refuse to start without it:
 * a default such as /tmp would be a different folder in every container, and
 * votes would silently vanish with each single-shot replica.
 */
export function storeFromEnvironment(environment: NodeJS.ProcessEnv = process.env): VoteStore {
  const directory = environment["VOTES_DIR"];
  if (directory === undefined || directory === "") {
    throw new Error("VOTES_DIR is not set: it names the folder (a Docker volume in production) where the votes file is kept");
  }
  return new VoteStore(directory);
}
