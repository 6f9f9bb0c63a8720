import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "./arguments.js";
import { runCall } from "./call.js";
import { ConfigError, findConfigFile, loadConfig } from "./config.js";
import type { FunkerConfig } from "./config.js";
import { runDev } from "./dev.js";
import { isDockerVerb, runDockerVerb } from "./docker/index.js";
import { parseDuration } from "./duration.js";
import { HELP } from "./help.js";
import type { Verb } from "./help.js";
import { runList, runStatus } from "./list.js";
import { runNew } from "./scaffold.js";
import { useColour } from "./terminal.js";

/** Exit codes of `funker`, documented in its README and `--help`. */
export const ExitCode = {
  ok: 0,
  /** A call failed, or a function failed to build or to start. */
  failed: 1,
  /** The command line or funker.yml is wrong. */
  usage: 2,
  /** No running `funker dev` was found for a command that needs one. */
  noRuntime: 3,
} as const;

const FILE_OPTION = { file: { type: "string", short: "f" }, help: { type: "boolean", short: "h" } } as const;

/**
 * Runs the `funker` command line and resolves with its exit code. Streams
 * are parameters so that the whole CLI can run in a test process too.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  try {
    switch (verb) {
      case undefined:
      case "help":
      case "-h":
      case "--help":
        return printHelp(rest[0] !== undefined && rest[0] in HELP ? (rest[0] as Verb) : "funker");
      case "-v":
      case "--version":
        process.stdout.write(`${version()}\n`);
        return ExitCode.ok;
      case "dev":
        return await dev(rest);
      case "call":
      case "invoke":
        return await call(rest);
      case "new":
        return await scaffold(rest);
      case "ls":
      case "list":
        return await list(rest, "ls");
      case "status":
        return await list(rest, "status");
      default:
        if (isDockerVerb(verb)) {
          return await runDockerVerb(verb, rest, { loadConfig: configFor, output: process.stderr, stdout: process.stdout });
        }
        throw new UsageError(`unknown command "${verb}"; see funker --help`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`funker: ${error.message}\n`);
      return ExitCode.usage;
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return ExitCode.usage;
    }
    throw error;
  }
}

function printHelp(verb: Verb): number {
  process.stdout.write(`${HELP[verb]}\n`);
  return ExitCode.ok;
}

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
  return manifest.version;
}

function parse<Options extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}

/** The funker.yml named by --file, else the nearest one above the working directory. */
function configFor(file: string | undefined): FunkerConfig {
  if (file !== undefined) return loadConfig(resolve(file));
  const found = findConfigFile(process.cwd());
  if (found === undefined) throw new UsageError(`no funker.yml in ${process.cwd()} or above; create one, or use --file`);
  return loadConfig(found);
}

async function dev(args: readonly string[]): Promise<number> {
  const separator = args.indexOf("--");
  const own = separator < 0 ? args : args.slice(0, separator);
  const command = separator < 0 ? undefined : args.slice(separator + 1);
  const { values, positionals } = parse(own, {
    ...FILE_OPTION,
    port: { type: "string", short: "p" },
    keep: { type: "boolean" },
    "no-watch": { type: "boolean" },
    "ready-timeout": { type: "string" },
    volumes: { type: "string" },
    secrets: { type: "string" },
  });
  if (values.help === true) return printHelp("dev");
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"; put a command after --: funker dev -- ${positionals.join(" ")}`);
  if (command !== undefined && command.length === 0) throw new UsageError("nothing after --; give a command to run, or leave out --");
  let portBase: number | undefined;
  if (values.port !== undefined) {
    portBase = Number(values.port);
    if (!Number.isInteger(portBase) || portBase < 1 || portBase > 65_535) throw new UsageError(`--port "${values.port}" is not a port number`);
  }
  let readyTimeoutMs: number | undefined;
  if (values["ready-timeout"] !== undefined) {
    readyTimeoutMs = parseDuration(values["ready-timeout"]);
    if (readyTimeoutMs === undefined) throw new UsageError(`--ready-timeout "${values["ready-timeout"]}" is not a duration such as 30s`);
  }
  const config = configFor(values.file);
  return runDev({
    config,
    command,
    keep: values.keep === true,
    watch: values["no-watch"] !== true,
    portBase,
    readyTimeoutMs,
    volumesDirectory: values.volumes === undefined ? undefined : resolve(values.volumes),
    secretsDirectory: values.secrets === undefined ? undefined : resolve(values.secrets),
    output: process.stderr,
    colour: useColour(process.stderr),
  });
}

async function call(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...FILE_OPTION,
    data: { type: "string", short: "d" },
    timeout: { type: "string", short: "t" },
    legacy: { type: "boolean" },
    endpoint: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help === true) return printHelp("call");
  const [name, ...pairs] = positionals;
  if (name === undefined) throw new UsageError("which function? funker call <name> [key=value…]");
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = parseDuration(values.timeout);
    if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout "${values.timeout}" is not a duration such as 5s`);
  }
  if (values.data !== undefined && pairs.length > 0) throw new UsageError("give the arguments as key=value or as --data, not both");
  return runCall({
    name,
    pairs,
    data: values.data,
    timeoutMs,
    legacy: values.legacy === true,
    endpoint: values.endpoint,
    json: values.json === true,
    configFile: values.file,
  });
}

async function scaffold(args: readonly string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...FILE_OPTION, dir: { type: "string", short: "d" } });
  if (values.help === true) return printHelp("new");
  const [name, extra] = positionals;
  if (name === undefined) throw new UsageError("which name? funker new <name>");
  if (extra !== undefined) throw new UsageError(`unexpected "${extra}"`);
  return runNew({ name, directory: values.dir, configFile: values.file });
}

async function list(args: readonly string[], verb: "ls" | "status"): Promise<number> {
  const { values, positionals } = parse(args, { ...FILE_OPTION, json: { type: "boolean" } });
  if (values.help === true) return printHelp(verb);
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`);
  const config = configFor(values.file);
  const options = { config, json: values.json === true, colour: useColour(process.stdout) };
  return verb === "ls" ? runList(options) : runStatus(options);
}
