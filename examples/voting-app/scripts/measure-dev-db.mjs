#!/usr/bin/env node
// How the database of `funker dev` (PGlite behind @electric-sql/pglite-socket,
// as dist/dev-db.js serves it) behaves when several single-shot replicas
// connect at once, and whether LISTEN/NOTIFY reaches another connection.
// Run after `pnpm build`, from the repository root:
//   node examples/voting-app/scripts/measure-dev-db.mjs [host:port]
// With the address of a real Postgres (user postgres, trusted), the same
// measurements run against it too, as a baseline.
// Prints one JSON line per measurement. Timings are wall-clock on a shared
// machine: read them as orders of magnitude.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";

const devDb = fileURLToPath(new URL("../dist/dev-db.js", import.meta.url));
const TABLE = "CREATE TABLE IF NOT EXISTS votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)";
const UPSERT = "INSERT INTO votes (id, vote) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote";

async function freePort() {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  return port;
}

/** What one process-vote call does: a connection of its own, the table, the vote, and closing. */
async function oneCall(url, voter, vote) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query(TABLE);
    await client.query(UPSERT, [voter, vote]);
    return "ok";
  } catch (error) {
    return error.message.slice(0, 60);
  } finally {
    await client.end().catch(() => {});
  }
}

/** `replicas` calls at once, `rounds` times; then whether each stored vote is there. */
async function burst(url, label, replicas, rounds) {
  const outcomes = {};
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const results = await Promise.all(Array.from({ length: replicas }, (_, index) => oneCall(url, `${label}-${round}-${index}`, index % 2 ? "a" : "b")));
    for (const result of results) outcomes[result] = (outcomes[result] ?? 0) + 1;
  }
  const milliseconds = performance.now() - started;
  const check = new pg.Client(url);
  await check.connect();
  const stored = (await check.query("SELECT count(*)::int AS n FROM votes WHERE id LIKE $1", [`${label}-%`])).rows[0].n;
  await check.end();
  return { replicasAtOnce: replicas, rounds, outcomes, stored, msPerCall: Math.round((milliseconds / (replicas * rounds)) * 10) / 10 };
}

/** Does a NOTIFY on one connection reach another that LISTENs? And the notifier itself? */
async function listenNotify(url) {
  const seen = { listener: 0, notifier: 0 };
  const listener = new pg.Client(url);
  const notifier = new pg.Client(url);
  await listener.connect();
  await notifier.connect();
  listener.on("notification", () => (seen.listener += 1));
  notifier.on("notification", () => (seen.notifier += 1));
  await listener.query("LISTEN votes_changed");
  await notifier.query("NOTIFY votes_changed, 'a vote'");
  await new Promise((resolve) => setTimeout(resolve, 500));
  // A listener that asks something receives what was queued for it, on a real Postgres.
  await listener.query("SELECT 1");
  await new Promise((resolve) => setTimeout(resolve, 200));
  await listener.end();
  await notifier.end();
  return { notificationsToTheListener: seen.listener, notificationsToTheNotifier: seen.notifier };
}

// 1. dist/dev-db.js as funker dev runs it (PORT, HOST; no PGDATA: in memory).
const port = await freePort();
const started = performance.now();
const child = spawn(process.execPath, [devDb], { env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", PGDATA: "" }, stdio: ["ignore", "pipe", "inherit"] });
await new Promise((resolve) => child.stdout.on("data", (chunk) => /listening/.test(chunk.toString()) && resolve()));
const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
console.log(JSON.stringify({ server: "dist/dev-db.js", readyMs: Math.round(performance.now() - started) }));
for (const replicas of [2, 8, 32]) console.log(JSON.stringify({ server: "dist/dev-db.js (maxConnections 100)", ...(await burst(url, `dev${replicas}`, replicas, 5)) }));
console.log(JSON.stringify({ server: "dist/dev-db.js", ...(await listenNotify(url)) }));
child.kill("SIGTERM");
await once(child, "exit");

// 2. The socket server with its defaults, as `pglite-server` runs without -m: one connection at a time.
const db = await PGlite.create();
const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1" });
let defaultPort = 0;
server.addEventListener("listening", (event) => (defaultPort = event.detail.port));
await server.start();
const defaultUrl = `postgres://postgres@127.0.0.1:${defaultPort}/postgres`;
for (const replicas of [1, 2, 8]) console.log(JSON.stringify({ server: "PGLiteSocketServer defaults (maxConnections 1)", ...(await burst(defaultUrl, `default${replicas}`, replicas, 5)) }));
await server.stop();
await db.close();

// 3. A real Postgres, when given: the baseline.
if (process.argv[2] !== undefined) {
  const realUrl = `postgres://postgres@${process.argv[2]}/postgres`;
  for (const replicas of [2, 8, 32]) console.log(JSON.stringify({ server: `Postgres at ${process.argv[2]}`, ...(await burst(realUrl, `real${replicas}-${Date.now()}`, replicas, 5)) }));
  console.log(JSON.stringify({ server: `Postgres at ${process.argv[2]}`, ...(await listenNotify(realUrl)) }));
}
