// The web service's program: the ballot and the results on PORT (8080), for
// browsers. It finds the functions as every Funker caller does:
// FUNKER_ENDPOINTS (set by `funker dev`), else `tasks.<name>` in Docker's DNS.
import { createClient } from "@funker/client";
import { startVotingServer } from "./app.js";
import type { VotingFunctions } from "./functions.js";

const port = Number(process.env["PORT"] ?? "8080");
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`PORT must be a port number, got ${JSON.stringify(process.env["PORT"])}\n`);
  process.exit(1);
}
// 0.0.0.0 by default: in a container the page is reached from outside it.
const host = process.env["HOST"] ?? "0.0.0.0";

const client = createClient<VotingFunctions>();
const running = await startVotingServer({ client, port, host });
// Tests and scripts read the bound address from this line (PORT=0 picks one).
process.stdout.write(`voting app listening on ${running.url}\n`);

async function stop(): Promise<void> {
  await running.close();
  await client.close();
  process.exit(0);
}
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
