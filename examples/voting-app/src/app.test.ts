import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, FunkerError } from "@funker/client";
import { freePort, startFunction } from "@funker/testing";
import { afterEach, describe, expect, it } from "vitest";
import { ATTEMPT_TIMEOUT_MS, describeFailure, startVotingServer, VOTER_COOKIE } from "./app.js";
import type { VotingFunctions } from "./functions.js";
import { createProcessVote, createTally } from "./functions.js";
import { VoteStore } from "./votes.js";

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/**
 * The web service in this process against the real functions, each served by
 * the real handler on its own port and called over TCP by the real client.
 */
async function startApp(votesDirectory?: string) {
  const folder = mkdtempSync(join(tmpdir(), "voting-app-"));
  folders.push(folder);
  const store = new VoteStore(votesDirectory ?? folder);
  const processVote = await startFunction(createProcessVote(store), { name: "process-vote" });
  const tally = await startFunction(createTally(store), { name: "tally" });
  const client = createClient<VotingFunctions>({ endpoints: { "process-vote": processVote.endpoints, tally: tally.endpoints } });
  const web = await startVotingServer({ client, port: 0, host: "127.0.0.1" });
  return {
    url: web.url,
    processVote,
    async [Symbol.asyncDispose]() {
      await web.close();
      await client.close();
      await processVote.close();
      await tally.close();
    },
  };
}

async function voterCookie(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const setCookie = response.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(new RegExp(`^${VOTER_COOKIE}=[0-9a-f-]{36}; Path=/; HttpOnly; SameSite=Lax`));
  return setCookie.split(";")[0] as string;
}

function vote(url: string, cookie: string | undefined, option: string): Promise<Response> {
  return fetch(`${url}/vote`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie === undefined ? {} : { cookie }) },
    body: new URLSearchParams({ option }).toString(),
    redirect: "manual",
  });
}

describe("the web service against the real functions", () => {
  it("records a vote, redirects to the results, and counts a second vote of the same voter once", async () => {
    await using app = await startApp();
    const cookie = await voterCookie(app.url);

    const first = await vote(app.url, cookie, "cats");
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/results?vote=recorded&option=cats");
    const page = await (await fetch(`${app.url}/results?vote=recorded&option=cats`)).text();
    expect(page).toContain("your vote for Cats is counted");
    expect(page).toContain('<td id="count-cats">1</td>');
    expect(page).toContain('<td id="percent-cats">100%</td>');

    const second = await vote(app.url, cookie, "dogs");
    expect(second.headers.get("location")).toBe("/results?vote=duplicate&option=cats");
    const other = await vote(app.url, await voterCookie(app.url), "Dogs");
    expect(other.headers.get("location")).toBe("/results?vote=recorded&option=dogs");
    expect(await (await fetch(`${app.url}/results.json`)).json()).toEqual({ counts: { cats: 1, dogs: 1 }, total: 2 });
    expect(app.processVote.logs).toHaveLength(3);
  });

  it("answers a vote the function refuses with 400 and a message, and a vote without a cookie before calling", async () => {
    await using app = await startApp();
    const refused = await vote(app.url, await voterCookie(app.url), "parrots");
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("Please choose one of Cats or Dogs.");

    const cookieless = await vote(app.url, undefined, "cats");
    expect(cookieless.status).toBe(400);
    expect(await cookieless.text()).toContain("Allow cookies for this site");
    expect(app.processVote.logs).toHaveLength(1);
  });

  it("answers 502 and says the vote may not be counted when the function fails", async () => {
    const folder = mkdtempSync(join(tmpdir(), "voting-app-"));
    folders.push(folder);
    // A file where the votes folder should be: the function fails to record (ENOTDIR).
    writeFileSync(join(folder, "not-a-folder"), "");
    await using app = await startApp(join(folder, "not-a-folder"));
    const failed = await vote(app.url, await voterCookie(app.url), "cats");
    expect(failed.status).toBe(502);
    expect(await failed.text()).toContain("may or may not be counted");
  });

  it("answers 503 with Retry-After when no function answers, as page and as JSON", async () => {
    const closedPort = await freePort();
    await using client = createClient<VotingFunctions>({ endpoints: `process-vote=127.0.0.1:${closedPort};tally=127.0.0.1:${closedPort}` });
    await using web = await startVotingServer({ client, port: 0, host: "127.0.0.1", callTimeoutMs: 1_000 });
    const response = await vote(web.url, `${VOTER_COOKIE}=voter-0001`, "cats");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    expect(await response.text()).toContain("Your vote was not recorded");
    const results = await fetch(`${web.url}/results.json`);
    expect(results.status).toBe(503);
    expect(await results.json()).toEqual({ error: { code: expect.any(String), message: expect.stringContaining("cannot be counted") } });
  });
});

describe("a connection that hangs", () => {
  it("is given up after one attempt's time, and the vote made again on a fresh connection", async () => {
    const folder = mkdtempSync(join(tmpdir(), "voting-app-"));
    folders.push(folder);
    const store = new VoteStore(folder);
    await using processVote = await startFunction(createProcessVote(store), { name: "process-vote" });
    // In front of the function: the first connection is held open and never
    // answered (a replica that died under it); later ones pass through.
    const held: Socket[] = [];
    const front = createServer((socket) => {
      if (held.length === 0) {
        held.push(socket);
        return;
      }
      const [host, port] = (processVote.endpoints[0] as string).split(":");
      const upstream = connect(Number(port), host);
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    front.listen(0, "127.0.0.1");
    await once(front, "listening");
    const { port } = front.address() as { port: number };
    try {
      await using client = createClient<VotingFunctions>({ endpoints: { "process-vote": `127.0.0.1:${port}` } });
      await using web = await startVotingServer({ client, port: 0, host: "127.0.0.1", callTimeoutMs: ATTEMPT_TIMEOUT_MS * 3 });
      const response = await vote(web.url, `${VOTER_COOKIE}=voter-0001`, "dogs");
      expect(response.headers.get("location")).toBe("/results?vote=recorded&option=dogs");
      expect(held).toHaveLength(1);
      expect(await store.tally()).toEqual({ counts: { cats: 0, dogs: 1 }, total: 1 });
    } finally {
      for (const socket of held) socket.destroy();
      front.close();
    }
  });
});

describe("describeFailure", () => {
  it("tells a voter whether the vote may have been counted", () => {
    expect(describeFailure(new FunkerError("unavailable", "busy"), "vote")).toMatchObject({ status: 503, title: "Voting is unavailable" });
    expect(describeFailure(new FunkerError("deadline_exceeded", "late", { mayHaveRun: false }), "vote")).toMatchObject({ status: 503 });
    expect(describeFailure(new FunkerError("deadline_exceeded", "late", { mayHaveRun: true }), "vote")).toMatchObject({
      status: 504,
      message: expect.stringContaining("it may have been counted"),
    });
    expect(describeFailure(new Error("bug"), "tally")).toMatchObject({ status: 500, code: "internal" });
  });
});
