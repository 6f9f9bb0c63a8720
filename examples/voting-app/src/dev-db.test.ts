import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@funker/testing";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { countVotes, storeVote } from "./votes.js";

const program = fileURLToPath(new URL("../dist/dev-db.js", import.meta.url));

/** dist/dev-db.js as funker dev runs it: PORT, HOST and the variables of funker.yml; resolves once it listens. */
async function startDevDb(environment: NodeJS.ProcessEnv): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  if (!existsSync(program)) throw new Error(`${program} is missing: build first (pnpm test does it)`);
  const port = await freePort();
  const child = spawn(process.execPath, [program], { env: { ...process.env, ...environment, PORT: String(port), HOST: "127.0.0.1" }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (/listening on|reached through/.test(output)) resolve();
    });
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => reject(new Error(`dev-db exited with ${String(code)}:\n${output}`)));
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  };
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, child, stop };
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

describe("the database of funker dev (dist/dev-db.js)", { timeout: 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-dev-db-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("serves PGlite on PORT with its files under PGDATA, forwards to POSTGRES_ADDRESS instead when given, and keeps the votes over a restart", async () => {
    const pglite = await startDevDb({ PGDATA: scratch });
    await withClient(pglite.url, (client) => storeVote(client, { voter_id: "voter-0001", vote: "a" }));
    expect(existsSync(join(scratch, "pglite", "PG_VERSION"))).toBe(true);

    // A second dev-db that forwards to the first, as it would to Debian's Postgres or a container.
    const forwarder = await startDevDb({ POSTGRES_ADDRESS: new URL(pglite.url).host, PGDATA: join(scratch, "unused") });
    try {
      expect(await withClient(forwarder.url, (client) => countVotes(client))).toEqual({ counts: { a: 1, b: 0 }, total: 1 });
      await withClient(forwarder.url, (client) => storeVote(client, { voter_id: "voter-0002", vote: "b" }));
      expect(existsSync(join(scratch, "unused"))).toBe(false);
    } finally {
      await forwarder.stop();
    }
    await pglite.stop();
    expect(pglite.child.exitCode).toBe(0);

    const restarted = await startDevDb({ PGDATA: scratch });
    try {
      expect(await withClient(restarted.url, (client) => countVotes(client))).toEqual({ counts: { a: 1, b: 1 }, total: 2 });
    } finally {
      await restarted.stop();
    }
  });
});
