import { ConfigError } from "./config/funker-yml.js";
import { configFor, parseCommandLine, UsageError } from "./commands/command.js";
import type { CommandContext } from "./commands/command.js";
import { findCommand, FUNKER_HELP } from "./commands/registry.js";
import { ExitCode } from "./exit-code.js";
import { packageVersion } from "./version.js";

/**
 * Runs the `funker` command line and resolves with its exit code. Output goes
 * to the process's own streams, so the whole CLI can run in a test process too.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [word, ...rest] = argv;
  const context: CommandContext = { stdout: process.stdout, stderr: process.stderr, loadConfig: configFor };
  try {
    if (word === undefined || word === "help" || word === "-h" || word === "--help") {
      const asked = rest[0] === undefined ? undefined : findCommand(rest[0]);
      context.stdout.write(`${asked?.help ?? FUNKER_HELP}\n`);
      return ExitCode.ok;
    }
    if (word === "-v" || word === "--version") {
      context.stdout.write(`${packageVersion()}\n`);
      return ExitCode.ok;
    }
    const command = findCommand(word);
    if (command === undefined) throw new UsageError(`unknown command "${word}"; see funker --help`);
    const input = parseCommandLine(command, rest);
    if (input.values.help === true) {
      context.stdout.write(`${command.help}\n`);
      return ExitCode.ok;
    }
    return await command.run(input, context);
  } catch (error) {
    if (error instanceof UsageError) {
      context.stderr.write(`funker: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (error instanceof ConfigError) {
      context.stderr.write(`${error.message}\n`);
      return ExitCode.usage;
    }
    throw error;
  }
}
