// The web service's program: the ballot and the live results on PORT (8080),
// for browsers. It calls process-vote as every Funker caller does
// (FUNKER_ENDPOINTS under `funker dev`, else `tasks.<name>` in Docker's DNS)
// and reads the results from the Postgres of DATABASE_URL.
import { createClient } from "@funker/client";
import pg from "pg";
import { startVotingServer } from "./app.js";
import type { VotingFunctions } from "./functions.js";
import { databaseUrlFrom } from "./functions.js";
import { ResultsFeed } from "./results.js";
import { ensureVotesTable, optionLabels } from "./votes.js";

const port = Number(process.env["PORT"] ?? "8080");
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`PORT must be a port number, got ${JSON.stringify(process.env["PORT"])}\n`);
  process.exit(1);
}
// 0.0.0.0 by default: in a container the page is reached from outside it.
const host = process.env["HOST"] ?? "0.0.0.0";

// Two connections at most: one for the results' reads, one for a page's.
const pool = new pg.Pool({ connectionString: databaseUrlFrom(), max: 2, connectionTimeoutMillis: 5_000 });
// A dropped idle connection (the database restarting) is replaced at the next read.
pool.on("error", () => undefined);
// The table is created here, before the first vote: replicas that create it
// at the same moment on a new database race (one fails on Postgres's
// catalogue), which the seed's function does not survive.
const results = new ResultsFeed(
  pool,
  undefined,
  (error) => process.stderr.write(`cannot read the results (retrying): ${String(error)}\n`),
  () => ensureVotesTable(pool),
);
// Read now, and until the database answers, so the table exists before the first vote.
void (async () => {
  for (;;) {
    try {
      await results.current();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
})();
const client = createClient<VotingFunctions>();
const running = await startVotingServer({ client, results, labels: optionLabels(), port, host });
// Tests and scripts read the bound address from this line (PORT=0 picks one).
process.stdout.write(`voting app listening on ${running.url}\n`);

async function stop(): Promise<void> {
  results.stop();
  await running.close();
  await client.close();
  await pool.end();
  process.exit(0);
}
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
