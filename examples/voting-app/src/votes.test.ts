import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FunkerError } from "@funker/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { createProcessVote, createTally } from "./functions.js";
import { percentages } from "./pages.js";
import { foldVotes, normaliseVote, storeFromEnvironment, VoteStore, VOTES_FILE_NAME } from "./votes.js";

const folders: string[] = [];
function freshFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), "voting-app-"));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

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
  it("matches the option without regard to case or surrounding spaces", () => {
    expect(normaliseVote({ voter: "voter-0001", option: "  Cats " })).toEqual({ voter: "voter-0001", option: "cats" });
    expect(normaliseVote({ voter: "voter_0002", option: "DOGS" })).toEqual({ voter: "voter_0002", option: "dogs" });
  });

  it("refuses an unknown option and a malformed voter with bad_arguments, listing every issue", () => {
    const error = rejection(() => normaliseVote({ voter: "x", option: "fish" }));
    expect(error.code).toBe("bad_arguments");
    expect(error.data).toEqual({
      issues: [
        { message: expect.stringContaining("voter"), path: ["voter"] },
        { message: "option must be one of cats, dogs", path: ["option"] },
      ],
    });
  });

  it("refuses what is not an object, and options inherited from Object.prototype", () => {
    expect(rejection(() => normaliseVote("cats")).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote(null)).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote({ voter: "voter-0001", option: "toString" })).code).toBe("bad_arguments");
    expect(rejection(() => normaliseVote({ voter: "voter-0001\n", option: "cats" })).code).toBe("bad_arguments");
  });
});

describe("foldVotes", () => {
  it("counts each voter's first vote, and every option even at zero", () => {
    const text = [
      { voter: "a-voter-1", option: "cats", at: 1 },
      { voter: "a-voter-2", option: "cats", at: 2 },
      { voter: "a-voter-1", option: "dogs", at: 3 },
    ]
      .map((vote) => JSON.stringify(vote))
      .join("\n");
    expect(foldVotes(`${text}\n`).tally).toEqual({ counts: { cats: 2, dogs: 0 }, total: 2 });
    expect(foldVotes("").tally).toEqual({ counts: { cats: 0, dogs: 0 }, total: 0 });
  });

  it("skips a line cut short by a crash and lines that are not votes", () => {
    const text = `${JSON.stringify({ voter: "a-voter-1", option: "dogs", at: 1 })}\n{"voter":"a-voter-2","opt\n[]\n{"voter":"a-voter-3","option":"fish"}\n`;
    expect(foldVotes(text).tally).toEqual({ counts: { cats: 0, dogs: 1 }, total: 1 });
  });
});

describe("VoteStore", () => {
  it("appends one JSON line per vote and answers a second vote of the same voter with the first", async () => {
    const store = new VoteStore(join(freshFolder(), "created-on-first-vote"));
    expect(await store.tally()).toEqual({ counts: { cats: 0, dogs: 0 }, total: 0 });
    expect(await store.record({ voter: "voter-0001", option: "cats" }, 1000)).toEqual({ status: "recorded", option: "cats" });
    expect(await store.record({ voter: "voter-0001", option: "dogs" }, 2000)).toEqual({ status: "duplicate", option: "cats" });
    expect(await store.record({ voter: "voter-0002", option: "dogs" }, 3000)).toEqual({ status: "recorded", option: "dogs" });
    expect(readFileSync(store.file, "utf8")).toBe(
      '{"voter":"voter-0001","option":"cats","at":1000}\n{"voter":"voter-0002","option":"dogs","at":3000}\n',
    );
    expect(await store.tally()).toEqual({ counts: { cats: 1, dogs: 1 }, total: 2 });
  });

  it("keeps every vote whole when many are recorded at once, and counts a voter racing with itself once", async () => {
    const store = new VoteStore(freshFolder());
    const voters = Array.from({ length: 40 }, (_, index) => `voter-${String(index).padStart(4, "0")}`);
    await Promise.all(voters.map((voter, index) => store.record({ voter, option: index % 4 === 0 ? "dogs" : "cats" })));
    const racing = await Promise.all([store.record({ voter: "racer-0001", option: "cats" }), store.record({ voter: "racer-0001", option: "dogs" })]);
    expect(new Set(racing.map((outcome) => outcome.option)).size).toBe(1);
    const lines = readFileSync(store.file, "utf8").trimEnd().split("\n");
    for (const line of lines) expect(() => JSON.parse(line) as unknown).not.toThrow();
    expect(await store.tally()).toEqual({ counts: { cats: racing[0]?.option === "cats" ? 31 : 30, dogs: racing[0]?.option === "dogs" ? 11 : 10 }, total: 41 });
  });

  it("is named by VOTES_DIR, which the functions require", () => {
    expect(() => storeFromEnvironment({})).toThrow(/VOTES_DIR is not set/);
    expect(storeFromEnvironment({ VOTES_DIR: "/votes" }).file).toBe(join("/votes", VOTES_FILE_NAME));
  });
});

describe("the functions", () => {
  it("process-vote validates before it records, and tally folds what it recorded", async () => {
    const folder = freshFolder();
    const store = new VoteStore(folder);
    const processVote = createProcessVote(store);
    const tally = createTally(store);
    await expect(processVote({ voter: "voter-0001", option: "parrots" })).rejects.toMatchObject({ code: "bad_arguments" });
    expect(() => readFileSync(join(folder, VOTES_FILE_NAME))).toThrow(/ENOENT/);
    expect(await processVote({ voter: "voter-0001", option: "Dogs" })).toEqual({ status: "recorded", option: "dogs" });
    writeFileSync(join(folder, "unrelated.txt"), "not a vote");
    expect(await tally()).toEqual({ counts: { cats: 0, dogs: 1 }, total: 1 });
  });

  it("rounds percentages to whole numbers, 0 before the first vote", () => {
    expect(percentages({ counts: { cats: 2, dogs: 1 }, total: 3 })).toEqual({ cats: 67, dogs: 33 });
    expect(percentages({ counts: { cats: 0, dogs: 0 }, total: 0 })).toEqual({ cats: 0, dogs: 0 });
  });
});
