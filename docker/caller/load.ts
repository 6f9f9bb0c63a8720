// `funker-load <name> [key=value…] [--seconds s] [--concurrency n] [--json]`:
// calls a function for a while and prints calls per second, latencies and
// failed connection attempts per success (usage in load-options.ts).
// Connection attempts are counted from outside the client (attempts.ts).
import { createClient } from "@funker/client";
import { UsageError } from "./arguments.js";
import { watchConnectionAttempts } from "./attempts.js";
import { LOAD_USAGE, parseLoadCommand } from "./load-options.js";
import type { LoadCommand } from "./load-options.js";
import { formatSummary, loadFigures, runLoad } from "./load-run.js";

async function main(): Promise<number> {
  let command: LoadCommand;
  try {
    command = parseLoadCommand(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`funker-load: ${error.message}\n`);
    return 2;
  }
  if (command.kind === "help") {
    process.stdout.write(`${LOAD_USAGE}\n`);
    return 0;
  }
  const { options } = command;
  // Watching starts before the client exists, so that no socket of the run is missed.
  const attempts = watchConnectionAttempts();
  const client = createClient();
  const calls = await runLoad(client, options);
  const figures = loadFigures(options, calls, attempts.figures());
  attempts.stop();
  process.stdout.write(options.json ? `${JSON.stringify(figures)}\n` : formatSummary(figures));
  await client.close();
  return 0;
}

// Kept connections must not hold the process open after the figures.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`funker-load: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
