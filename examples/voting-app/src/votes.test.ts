import { FunkerError } from "@funker/protocol";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectTo, createProcessVote, databaseUrlFrom, writeModeFrom } from "./functions.js";
import type { TestDatabase } from "./test-support/database.js";
import { startTestDatabase } from "./test-support/database.js";
import type { Vote } from "./votes.js";
import { countVotes, ensureVotesTable, normaliseVote, optionLabels, percentages, storeVote } from "./votes.js";

function rejection(run: () => unknown): FunkerError {
  try {
    run();
  } catch (error) {
    if (error instanceof FunkerError) return error;
    throw error;
  }
  throw new Error("expected a FunkerError");
}

describe("normaliseVote", () => {
  it("takes the seed's { voter_id, vote }, the vote without regard to case or surrounding spaces", () => {
    expect(normaliseVote({ voter_id: "0f3c9a77d2e1b845", vote: " A " })).toEqual({ voter_id: "0f3c9a77d2e1b845", vote: "a" });
    expect(normaliseVote({ voter_id: "voter_0002", vote: "b" })).toEqual({ voter_id: "voter_0002", vote: "b" });
  });

  it("refuses an unknown vote and a malformed voter with bad_arguments, listing every issue", () => {
    const error = rejection(() => normaliseVote({ voter_id: "x", vote: "c" }));
    expect(error.code).toBe("bad_arguments");
    expect(error.data).toEqual({
      issues: [
        { message: expect.stringContaining("voter_id") as unknown, path: ["voter_id"] },
        { message: "vote must be one of a, b", path: ["vote"] },
      ],
    });
    expect(rejection(() => normaliseVote("a")).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote(null)).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote({ voter_id: "voter-0001", vote: "toString" })).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote({ voter_id: "voter-0001\n", vote: "a" })).code).toBe("bad_arguments");
  });

  it("shows the choices as OPTION_A and OPTION_B, Cats and Dogs by default", () => {
    expect(optionLabels({})).toEqual({ a: "Cats", b: "Dogs" });
    expect(optionLabels({ OPTION_A: "Tea", OPTION_B: " " })).toEqual({ a: "Tea", b: "Dogs" });
  });

  it("rounds percentages to whole numbers, 0 before the first vote", () => {
    expect(percentages({ counts: { a: 2, b: 1 }, total: 3 })).toEqual({ a: 67, b: 33 });
    expect(percentages({ counts: { a: 0, b: 0 }, total: 0 })).toEqual({ a: 0, b: 0 });
  });
});

describe("the votes in Postgres (PGlite over the wire, through pg)", () => {
  let database: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    database = await startTestDatabase();
    client = new pg.Client(database.url);
    await client.connect();
  }, 60_000);
  afterAll(async () => {
    await client.end();
    await database[Symbol.asyncDispose]();
  });
  beforeEach(async () => {
    await database.db.exec("DROP TABLE IF EXISTS votes");
  });

  it("counts zero for every choice before the first vote, when there is no table yet", async () => {
    expect(await countVotes(client)).toEqual({ counts: { a: 0, b: 0 }, total: 0 });
  });

  it("keeps one row per voter, in the seed's table: a changed vote replaces the old one, the same vote twice is one", async () => {
    await storeVote(client, { voter_id: "voter-0001", vote: "a" });
    await storeVote(client, { voter_id: "voter-0002", vote: "b" });
    expect(await countVotes(client)).toEqual({ counts: { a: 1, b: 1 }, total: 2 });
    await storeVote(client, { voter_id: "voter-0001", vote: "b" });
    await storeVote(client, { voter_id: "voter-0001", vote: "b" });
    expect(await countVotes(client)).toEqual({ counts: { a: 0, b: 2 }, total: 2 });
    const { rows } = await database.db.query("SELECT id, vote FROM votes ORDER BY id");
    expect(rows).toEqual([
      { id: "voter-0001", vote: "b" },
      { id: "voter-0002", vote: "b" },
    ]);
    const columns = await database.db.query<{ column_name: string; data_type: string; character_maximum_length: number }>(
      "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE table_name = 'votes' ORDER BY ordinal_position",
    );
    expect(columns.rows).toEqual([
      { column_name: "id", data_type: "character varying", character_maximum_length: 255 },
      { column_name: "vote", data_type: "character varying", character_maximum_length: 255 },
    ]);
  });

  it("stores votes from many connections opened at once, as single-shot replicas open them, creating the table once", async () => {
    const votes: Vote[] = Array.from({ length: 24 }, (_, index) => ({ voter_id: `voter-${String(index).padStart(4, "0")}`, vote: index % 3 === 0 ? "b" : "a" }));
    const connect = connectTo(database.url);
    await Promise.all(
      votes.map(async (vote) => {
        const connection = await connect();
        try {
          await storeVote(connection, vote);
        } finally {
          await connection.end();
        }
      }),
    );
    expect(await countVotes(client)).toEqual({ counts: { a: 16, b: 8 }, total: 24 });
    // Creating it again is harmless: the functions do it on every call, as the seed's did.
    await ensureVotesTable(client);
  });

  it("ignores stored values that are not choices on the ballot", async () => {
    await storeVote(client, { voter_id: "voter-0001", vote: "a" });
    await client.query("INSERT INTO votes (id, vote) VALUES ('by-hand-01', 'c')");
    expect(await countVotes(client)).toEqual({ counts: { a: 1, b: 0 }, total: 1 });
  });

  it("process-vote, strict: replies once the vote is stored, after validating it", async () => {
    const processVote = createProcessVote(connectTo(database.url), "strict");
    await expect(processVote({ voter_id: "voter-0001", vote: "c" })).rejects.toMatchObject({ code: "bad_arguments" });
    expect(await processVote({ voter_id: "voter-0001", vote: "B" })).toEqual({ voter_id: "voter-0001", vote: "b", stored: true });
    expect(await countVotes(client)).toEqual({ counts: { a: 0, b: 1 }, total: 1 });
  });

  it("process-vote, background: replies before the vote is stored, and stores it after", async () => {
    const processVote = createProcessVote(connectTo(database.url), "background");
    expect(await processVote({ voter_id: "voter-0001", vote: "a" })).toEqual({ voter_id: "voter-0001", vote: "a", stored: false });
    await expect.poll(() => countVotes(client), { timeout: 10_000 }).toEqual({ counts: { a: 1, b: 0 }, total: 1 });
  });

  it("process-vote, strict: fails the call when the vote cannot be stored; background: acknowledges it and reports the loss", async () => {
    const nowhere = `postgres://postgres@127.0.0.1:1/postgres`;
    await expect(createProcessVote(connectTo(nowhere), "strict")({ voter_id: "voter-0001", vote: "a" })).rejects.toThrow(/ECONNREFUSED/);
    const lost: Vote[] = [];
    const background = createProcessVote(connectTo(nowhere), "background", (_error, vote) => lost.push(vote));
    expect(await background({ voter_id: "voter-0001", vote: "a" })).toMatchObject({ stored: false });
    await expect.poll(() => lost, { timeout: 10_000 }).toEqual([{ voter_id: "voter-0001", vote: "a" }]);
  });
});

describe("the function's settings", () => {
  it("require DATABASE_URL, and take VOTE_WRITE strict (the default) or background only", () => {
    expect(() => databaseUrlFrom({})).toThrow(/DATABASE_URL is not set/);
    expect(databaseUrlFrom({ DATABASE_URL: "postgres://db/x" })).toBe("postgres://db/x");
    expect(writeModeFrom({})).toBe("strict");
    expect(writeModeFrom({ VOTE_WRITE: "background" })).toBe("background");
    expect(() => writeModeFrom({ VOTE_WRITE: "later" })).toThrow(/VOTE_WRITE must be "strict" or "background"/);
  });
});
