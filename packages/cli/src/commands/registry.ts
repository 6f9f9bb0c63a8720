import { autoscale } from "./autoscale.js";
import { build } from "./build.js";
import { call } from "./call.js";
import type { Command } from "./command.js";
import { compose } from "./compose.js";
import { deploy } from "./deploy.js";
import { dev } from "./dev.js";
import { logs } from "./logs.js";
import { ls } from "./ls.js";
import { newFunction } from "./new.js";
import { rm } from "./rm.js";
import { status } from "./status.js";

/**
 * Every command of `funker`, in the order `funker --help` lists them. A new
 * command is a module in this folder and one entry here; its help, its
 * listing and its dispatch all come from this list.
 */
export const COMMANDS: readonly Command[] = [dev, call, newFunction, ls, status, logs, build, deploy, compose, rm, autoscale] as readonly Command[];

/** The command a word names (by name or alias), or undefined. */
export function findCommand(word: string): Command | undefined {
  return COMMANDS.find((command) => command.name === word || command.aliases?.includes(word) === true);
}

/** Where the synopses end and the summaries start in `funker --help`. */
const SYNOPSIS_WIDTH = 28;

/** The help of `funker` itself: its commands come from `COMMANDS`. */
export const FUNKER_HELP = `Usage: funker <command> [options]

Run Funker functions locally, call them, scaffold new ones, and deploy them
as Docker services.

Commands:
${COMMANDS.map((command) => `  ${command.synopsis.padEnd(SYNOPSIS_WIDTH)}${command.summary}`).join("\n")}

Options:
  -f, --file <path>  the funker.yml to use (default: the nearest one above the working directory)
  -h, --help         help for funker, or for a command: funker <command> --help
  -v, --version      print the version

Exit codes: 0 success, 1 failure (a call failed, a function failed to build or
start), 2 usage or funker.yml error, 3 no running \`funker dev\` found.
\`funker dev -- <command>\` exits with the command's code.`;

/** The help of `funker` and of every command, by name: `--help` prints it, and the README quotes it (a test keeps them the same). */
export const HELP: Readonly<Record<string, string>> = Object.fromEntries([
  ["funker", FUNKER_HELP],
  ...COMMANDS.map((command) => [command.name, command.help] as const),
]);
