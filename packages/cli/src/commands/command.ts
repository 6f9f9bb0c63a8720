import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { parseDuration } from "@funker/handler/contract";
import { findConfigFile, loadConfig } from "../config/funker-yml.js";
import type { FunkerConfig } from "../config/funker-yml.js";
import type { TextSink } from "../terminal.js";
import { UsageError } from "../usage-error.js";

export { UsageError };

/** What a command may use besides its arguments: where its output goes, and funker.yml. */
export interface CommandContext {
  /** Results, for scripts. */
  readonly stdout: TextSink;
  /** Progress and errors, for people. */
  readonly stderr: TextSink;
  /** The funker.yml named by --file, else the nearest one above the working directory. */
  readonly loadConfig: (file: string | undefined) => FunkerConfig;
}

type OptionsSpec = NonNullable<ParseArgsConfig["options"]>;

/** The options every command takes. */
const COMMON_OPTIONS = { file: { type: "string", short: "f" }, help: { type: "boolean", short: "h" } } as const;

type Parsed<Options extends OptionsSpec> = ReturnType<
  typeof parseArgs<{ options: Options & typeof COMMON_OPTIONS; allowPositionals: true; strict: true }>
>;

/** A command's arguments, read by `parseCommandLine`. */
export interface CommandInput<Options extends OptionsSpec> {
  readonly values: Parsed<Options>["values"];
  readonly positionals: readonly string[];
  /** The words after `--`, for a command that takes them (`funker dev -- <command>`); undefined when there was no `--`. */
  readonly rest: readonly string[] | undefined;
}

/** One `funker` verb: its names, its help, its options, and what it does. */
export interface Command<Options extends OptionsSpec = OptionsSpec> {
  readonly name: string;
  /** Other names it answers to (`invoke` for `call`). */
  readonly aliases?: readonly string[];
  /** How it is called, as `funker --help` lists it: `call <name> [key=value…]`. */
  readonly synopsis: string;
  /** What it does, in one line of `funker --help`. */
  readonly summary: string;
  /** The whole text of `funker <name> --help`; the README quotes it. */
  readonly help: string;
  /** Its own options (`--file` and `--help` are added to every command). */
  readonly options: Options;
  /** Options whose value may be left out (`--inspect` for `--inspect=9229`): the word alone, and what it stands for. */
  readonly bareOptions?: Readonly<Record<string, string>>;
  /** Whether the words after `--` are its own (a command to run) rather than positionals. */
  readonly takesCommand?: boolean;
  run(input: CommandInput<Options>, context: CommandContext): Promise<number> | number;
}

/** Declares a command, typing `run`'s values after its options. */
export function defineCommand<const Options extends OptionsSpec>(command: Command<Options>): Command<Options> {
  return command;
}

/** The one argument parser of `funker`: Node's `parseArgs`, strict, its errors turned into `UsageError`s. */
export function parseCommandLine<Options extends OptionsSpec>(command: Command<Options>, args: readonly string[]): CommandInput<Options> {
  const separator = command.takesCommand === true ? args.indexOf("--") : -1;
  const own = (separator < 0 ? args : args.slice(0, separator)).map((word) => command.bareOptions?.[word] ?? word);
  try {
    const { values, positionals } = parseArgs({
      args: [...own],
      options: { ...command.options, ...COMMON_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Parsed<Options>["values"], positionals, rest: separator < 0 ? undefined : args.slice(separator + 1) };
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** A duration flag (`--timeout 5s`) in milliseconds, in the handler's grammar; zero and nonsense are usage errors. */
export function durationFlag(flag: string, value: string | undefined, example: string): number | undefined {
  if (value === undefined) return undefined;
  const milliseconds = parseDuration(value);
  if (milliseconds === undefined) throw new UsageError(`--${flag} "${value}" is not a duration such as ${example}`);
  return milliseconds;
}

/** Refuses positionals a command does not take. */
export function noPositionals(positionals: readonly string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`);
}

/** The funker.yml named by --file, else the nearest one above the working directory. */
export function configFor(file: string | undefined): FunkerConfig {
  if (file !== undefined) return loadConfig(resolve(file));
  const found = findConfigFile(process.cwd());
  if (found === undefined) throw new UsageError(`no funker.yml in ${process.cwd()} or above; create one, or use --file`);
  return loadConfig(found);
}
