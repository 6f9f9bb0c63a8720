import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { createClient, FunkerError } from "@funker/client";
import { freePort, startFunction } from "@funker/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ATTEMPT_TIMEOUT_MS, describeFailure, startVotingServer, VOTER_COOKIE } from "./app.js";
import type { VotingFunctions } from "./functions.js";
import { connectTo, createProcessVote } from "./functions.js";
import { ResultsFeed } from "./results.js";
import type { TestDatabase } from "./test-support/database.js";
import { startTestDatabase, testPool } from "./test-support/database.js";
import { countVotes, ensureVotesTable, optionLabels } from "./votes.js";

const labels = optionLabels({});
let database: TestDatabase;
beforeAll(async () => {
  database = await startTestDatabase();
}, 60_000);
afterAll(() => database[Symbol.asyncDispose]());
beforeEach(async () => {
  await database.db.exec("DROP TABLE IF EXISTS votes");
});

/**
 * The web service in this process against the real process-vote, served by
 * the real handler and called over TCP by the real client, and a real
 * Postgres (PGlite through its socket server) for both.
 */
async function startApp(processVote: Parameters<typeof startFunction>[0] = createProcessVote(connectTo(database.url), "strict"), resultsUrl = database.url) {
  const fn = await startFunction(processVote, { name: "process-vote" });
  const client = createClient<VotingFunctions>({ endpoints: { "process-vote": fn.endpoints } });
  const pool = testPool(resultsUrl);
  const results = new ResultsFeed(pool, 50);
  const web = await startVotingServer({ client, results, labels, port: 0, host: "127.0.0.1" });
  return {
    url: web.url,
    processVote: fn,
    async [Symbol.asyncDispose]() {
      results.stop();
      await web.close();
      await client.close();
      await fn.close();
      await pool.end();
    },
  };
}

async function voterCookie(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const setCookie = response.headers.get("set-cookie") ?? "";
  expect(setCookie).toMatch(new RegExp(`^${VOTER_COOKIE}=[0-9a-f]{16}; Path=/; HttpOnly; SameSite=Lax`));
  return setCookie.split(";")[0] as string;
}

function vote(url: string, cookie: string | undefined, choice: string): Promise<Response> {
  return fetch(`${url}/vote`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie === undefined ? {} : { cookie }) },
    body: new URLSearchParams({ vote: choice }).toString(),
    redirect: "manual",
  });
}

/** The `counts` events of a results stream, as they come. */
async function* countEvents(url: string, signal: AbortSignal): AsyncGenerator<unknown> {
  const response = await fetch(`${url}/results/stream`, { signal });
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  let buffered = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffered += Buffer.from(chunk).toString("utf8");
    let end: number;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = /^event: counts\ndata: (.*)$/m.exec(event)?.[1];
      if (data !== undefined) yield JSON.parse(data);
    }
  }
}

describe("the web service against the real function and database", () => {
  it("stores a vote, shows the choice, replaces it when the voter changes it, and counts each voter once", async () => {
    await using app = await startApp();
    const cookie = await voterCookie(app.url);

    const first = await vote(app.url, cookie, "a");
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe("/?voted=a&stored=yes");
    const ballot = await (await fetch(`${app.url}/?voted=a&stored=yes`, { headers: { cookie } })).text();
    expect(ballot).toContain("Your vote is counted: Cats.");
    expect(ballot).toContain('id="vote-a" class="chosen"');

    const other = await vote(app.url, await voterCookie(app.url), "B");
    expect(other.headers.get("location")).toBe("/?voted=b&stored=yes");
    expect(await (await fetch(`${app.url}/results.json`)).json()).toEqual({ counts: { a: 1, b: 1 }, total: 2 });

    const changed = await vote(app.url, cookie, "b");
    expect(changed.headers.get("location")).toBe("/?voted=b&stored=yes");
    expect(await (await fetch(`${app.url}/results.json`)).json()).toEqual({ counts: { a: 0, b: 2 }, total: 2 });
    const page = await (await fetch(`${app.url}/results`)).text();
    expect(page).toContain('<td id="count-b">2</td>');
    expect(page).toContain('<td id="percent-b">100%</td>');
    expect(page).toContain('new EventSource("/results/stream")');
    expect(app.processVote.logs).toHaveLength(3);
  });

  it("pushes the counts on the results stream when it opens and at each vote, without being asked", async () => {
    await using app = await startApp();
    const abort = new AbortController();
    const events = countEvents(app.url, abort.signal);
    try {
      expect((await events.next()).value).toEqual({ counts: { a: 0, b: 0 }, total: 0 });
      await vote(app.url, await voterCookie(app.url), "a");
      expect((await events.next()).value).toEqual({ counts: { a: 1, b: 0 }, total: 1 });
      await vote(app.url, await voterCookie(app.url), "b");
      expect((await events.next()).value).toEqual({ counts: { a: 1, b: 1 }, total: 2 });
    } finally {
      await events.return(undefined);
      abort.abort();
    }
  });

  it("shows a vote to a function that replies nothing, as the seed's does, as received", async () => {
    await using app = await startApp(async () => null);
    const response = await vote(app.url, await voterCookie(app.url), "b");
    expect(response.headers.get("location")).toBe("/?voted=b&stored=no");
    const ballot = await (await fetch(`${app.url}/?voted=b&stored=no`)).text();
    expect(ballot).toContain("Your vote is received: Dogs.");
  });

  it("answers a vote the function refuses with 400 and a message, and a vote without a cookie before calling", async () => {
    await using app = await startApp();
    const refused = await vote(app.url, await voterCookie(app.url), "parrots");
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("Please choose Cats or Dogs.");

    const cookieless = await vote(app.url, undefined, "a");
    expect(cookieless.status).toBe(400);
    expect(await cookieless.text()).toContain("Allow cookies for this site");
    expect(app.processVote.logs).toHaveLength(1);
  });

  it("answers 502, saying the vote may not be counted, when the database is down; the results answer 503", async () => {
    const down = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`;
    await using app = await startApp(createProcessVote(connectTo(down), "strict"), down);
    const failed = await vote(app.url, await voterCookie(app.url), "a");
    expect(failed.status).toBe(502);
    expect(await failed.text()).toContain("may or may not be counted");
    const results = await fetch(`${app.url}/results.json`);
    expect(results.status).toBe(503);
    expect(await results.json()).toEqual({ error: { code: "unavailable", message: expect.stringContaining("cannot be read") as unknown } });
  });
});

describe("the results feed", () => {
  it("prepares the database (creates the table) before its first read, once", async () => {
    await using pool = testPool(database.url);
    let prepared = 0;
    const feed = new ResultsFeed(pool, 50, undefined, async () => {
      prepared += 1;
      await ensureVotesTable(pool);
    });
    expect(await feed.current()).toEqual({ counts: { a: 0, b: 0 }, total: 0 });
    await feed.current();
    expect(prepared).toBe(1);
    expect((await database.db.query("SELECT count(*)::int AS n FROM votes")).rows).toEqual([{ n: 0 }]);
  });
});

describe("the web service without a function", () => {
  it("answers 503 with Retry-After when no replica answers: the vote was not recorded", async () => {
    const closedPort = await freePort();
    await using client = createClient<VotingFunctions>({ endpoints: `process-vote=127.0.0.1:${closedPort}` });
    const results = new ResultsFeed({ query: () => Promise.reject(new Error("unused")) });
    await using web = await startVotingServer({ client, results, labels, port: 0, host: "127.0.0.1", callTimeoutMs: 1_000 });
    const response = await vote(web.url, `${VOTER_COOKIE}=voter-0001`, "a");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    expect(await response.text()).toContain("Your vote was not recorded");
  });

  it("gives a connection that hangs up one attempt's time, and makes the vote again on a fresh connection", async () => {
    {
      await using processVote = await startFunction(createProcessVote(connectTo(database.url), "strict"), { name: "process-vote" });
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
        const results = new ResultsFeed({ query: () => Promise.reject(new Error("unused")) });
        await using web = await startVotingServer({ client, results, labels, port: 0, host: "127.0.0.1", callTimeoutMs: ATTEMPT_TIMEOUT_MS * 3 });
        const response = await vote(web.url, `${VOTER_COOKIE}=voter-0001`, "b");
        expect(response.headers.get("location")).toBe("/?voted=b&stored=yes");
        expect(held).toHaveLength(1);
        await using pool = testPool(database.url);
        expect(await countVotes(pool)).toEqual({ counts: { a: 0, b: 1 }, total: 1 });
      } finally {
        for (const socket of held) socket.destroy();
        front.close();
      }
    }
  }, 30_000);
});

describe("describeFailure", () => {
  it("tells a voter whether the vote may have been counted", () => {
    expect(describeFailure(new FunkerError("unavailable", "busy"))).toMatchObject({ status: 503, title: "Voting is unavailable" });
    expect(describeFailure(new FunkerError("deadline_exceeded", "late", { mayHaveRun: false }))).toMatchObject({ status: 503 });
    expect(describeFailure(new FunkerError("deadline_exceeded", "late", { mayHaveRun: true }))).toMatchObject({
      status: 504,
      message: expect.stringContaining("it may have been counted") as unknown,
    });
    expect(describeFailure(new Error("bug"))).toMatchObject({ status: 500, code: "internal" });
  });
});
