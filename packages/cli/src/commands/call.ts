import { dirname, resolve } from "node:path";
import { createClient } from "@funker/client";
import type { CallOptions, ClientOptions } from "@funker/client";
import { keyVariables } from "@funker/client/internal";
import { FunkerError } from "@funker/protocol";
import { ConfigError, findConfigFile, loadConfig } from "../config/funker-yml.js";
import { keyFiles } from "../config/signing-keys.js";
import { ENDPOINTS_VARIABLE } from "../dev/endpoints.js";
import { DEV_SECRETS_FOLDER } from "../dev/secrets.js";
import { readState, stateFilePath } from "../dev/state.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand, durationFlag, UsageError } from "./command.js";

/** `funker call`: calls one function through @funker/client and prints its result. */
export const call = defineCommand({
  name: "call",
  aliases: ["invoke"],
  synopsis: "call <name> [key=value…]",
  summary: "call a function and print its result as JSON",
  help: `Usage: funker call <name> [key=value…] [options]

Calls a function and prints its result as JSON on standard output. Arguments:
key=value pairs, or --data '<json>', or JSON on standard input. Each value of
key=value is parsed as JSON (x=1 is a number, ok=true a boolean, tags=[1,2] an
array) and falls back to the string as written when it is not JSON (name=Ada);
quote to force a string: id='"42"'.

The function is found through --endpoint, else FUNKER_ENDPOINTS, else the
running \`funker dev\` of this project (.funker/dev.json). When funker.yml
names a \`secret:\`, calls are signed with the keys in secrets/<name> beside
it, as \`funker dev\` reads them; FUNKER_SECRET_FILE, FUNKER_SECRET or
FUNKER_SECRET_FILES in the environment take their place.

On failure prints "error <code>: <message>" on standard error, with the
function's stack when the replica sends it (funker dev has it do), and exits 1
(3 when no running funker dev is found, 2 for arguments that do not parse).

Options:
  -d, --data <json>      the arguments as JSON ("-" reads standard input)
  -t, --timeout <duration>  the whole call's time limit, e.g. 5s (default 60s)
      --legacy           speak the 2017 wire format (for a 2017 function)
      --endpoint <host:port>  call this address, bypassing discovery
      --json             print {"ok":true,"result":…} or {"ok":false,"error":{…}} on standard output
      --secrets <path>   where the key files of \`secret:\` are (default secrets beside funker.yml)
  -f, --file <path>      the funker.yml whose runtime and keys to use
  -h, --help             this help`,
  options: {
    data: { type: "string", short: "d" },
    timeout: { type: "string", short: "t" },
    legacy: { type: "boolean" },
    endpoint: { type: "string" },
    json: { type: "boolean" },
    secrets: { type: "string" },
  },
  run({ values, positionals }) {
    const [name, ...pairs] = positionals;
    if (name === undefined) throw new UsageError("which function? funker call <name> [key=value…]");
    const timeoutMs = durationFlag("timeout", values.timeout, "5s");
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
      secretsDirectory: values.secrets === undefined ? undefined : resolve(values.secrets),
    });
  },
});

export interface CallCommand {
  readonly name: string;
  readonly pairs: readonly string[];
  readonly data: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly legacy: boolean;
  readonly endpoint: string | undefined;
  readonly json: boolean;
  readonly configFile: string | undefined;
  /** Where the key files of funker.yml's `secret:` are; `secrets` beside funker.yml by default. */
  readonly secretsDirectory?: string | undefined;
}

/**
 * `funker call`: finds the function (an explicit endpoint, FUNKER_ENDPOINTS,
 * or the running `funker dev` through its state file), calls it with
 * `@funker/client`, prints the result as JSON. Resolves with the exit code.
 */
export async function runCall(command: CallCommand): Promise<number> {
  const args = await readArguments(command);

  const options: CallOptions = {};
  if (command.timeoutMs !== undefined) options.timeout = command.timeoutMs;
  if (command.legacy) options.protocol = "legacy";

  if (command.endpoint !== undefined) options.endpoints = [command.endpoint];
  else if (!hasEndpointsInEnvironment()) {
    const found = findRuntime(command.configFile);
    if (!found.ok) {
      process.stderr.write(`funker: ${found.message}\n`);
      return ExitCode.noRuntime;
    }
    const addresses = found.endpoints[command.name];
    if (addresses === undefined || addresses.length === 0) {
      const known = Object.keys(found.endpoints).sort().join(", ");
      return printFailure(command, new FunkerError("not_found", `no function "${command.name}" in the running funker dev (functions: ${known})`));
    }
    options.endpoints = addresses;
  }

  const keys = signingKeys(command);
  if (!keys.ok) {
    process.stderr.write(`funker: ${keys.message}\n`);
    return ExitCode.usage;
  }
  let client;
  try {
    client = createClient(keys.options);
  } catch (error) {
    // A key file missing or malformed: the client's message names it, never a key.
    process.stderr.write(`funker: cannot sign calls: ${(error as Error).message}\n`);
    return ExitCode.failed;
  }
  try {
    const result = await client.call(command.name, args, options);
    const shown = result === undefined ? null : result;
    if (command.json) process.stdout.write(`${JSON.stringify({ ok: true, result: shown })}\n`);
    else process.stdout.write(`${JSON.stringify(shown, null, process.stdout.isTTY === true ? 2 : undefined)}\n`);
    return ExitCode.ok;
  } catch (error) {
    return printFailure(command, FunkerError.from(error));
  } finally {
    await client.close();
  }
}

type KeyLookup = { ok: true; options: ClientOptions } | { ok: false; message: string };

/**
 * The keys that sign the call: none given here when this process has key
 * variables of its own (the client reads them, as in a container or the
 * command after \`funker dev --\`); else the key files funker.yml's
 * \`secret:\` names, in the secrets folder beside it, where \`funker dev\`
 * reads them; else none.
 */
function signingKeys(command: CallCommand): KeyLookup {
  if (Object.values(keyVariables).some((name) => (process.env[name] ?? "").trim() !== "")) return { ok: true, options: {} };
  const file = command.configFile !== undefined ? resolve(command.configFile) : findConfigFile(process.cwd());
  if (file === undefined) return { ok: true, options: {} };
  let config;
  try {
    config = loadConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, message: error.message };
    throw error;
  }
  const folder = resolve(config.root, command.secretsDirectory ?? DEV_SECRETS_FOLDER);
  const files = keyFiles(config, (name) => resolve(folder, name));
  const options: ClientOptions = {};
  if (files.secretFile !== undefined) options.secretFile = files.secretFile;
  if (Object.keys(files.secretFiles).length > 0) options.secretFiles = files.secretFiles;
  return { ok: true, options };
}

function printFailure(command: CallCommand, error: FunkerError): number {
  if (command.json) {
    const wire: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.data !== undefined) wire["data"] = error.data;
    if (error.remoteName !== undefined) wire["name"] = error.remoteName;
    if (error.remoteStack !== undefined) wire["stack"] = error.remoteStack;
    process.stdout.write(`${JSON.stringify({ ok: false, error: wire })}\n`);
  } else {
    // The function's own error by name (`TypeError: boom`), and where it was thrown when the replica sent its stack.
    const thrown = error.remote && error.remoteName !== undefined && error.remoteName !== "FunkerError" ? `${error.remoteName}: ` : "";
    process.stderr.write(`error ${error.code}: ${thrown}${error.message}\n`);
    for (const line of error.remoteStack?.split("\n").slice(1) ?? []) process.stderr.write(`${line}\n`);
    if (error.code === "deadline_exceeded") process.stderr.write("funker call --timeout <duration> (e.g. 5m) sets the time limit\n");
  }
  return ExitCode.failed;
}

function hasEndpointsInEnvironment(): boolean {
  const value = process.env[ENDPOINTS_VARIABLE];
  return value !== undefined && value.trim() !== "";
}

type RuntimeLookup = { ok: true; endpoints: Readonly<Record<string, readonly string[]>> } | { ok: false; message: string };

/** The endpoints of the `funker dev` that runs for this project, from its state file. */
function findRuntime(configFile: string | undefined): RuntimeLookup {
  const file = configFile !== undefined ? resolve(configFile) : findConfigFile(process.cwd());
  if (file === undefined) {
    return { ok: false, message: `no funker.yml in ${process.cwd()} or above, and FUNKER_ENDPOINTS is not set; use --endpoint host:port` };
  }
  const root = dirname(file);
  const state = readState(root);
  if (state === undefined) {
    return {
      ok: false,
      message: `no running funker dev for ${file} (${stateFilePath(root)} is missing or stale); start one with \`funker dev\`, or set FUNKER_ENDPOINTS`,
    };
  }
  return { ok: true, endpoints: state.endpoints };
}

async function readArguments(command: CallCommand): Promise<unknown> {
  if (command.pairs.length > 0) return parseKeyValueArguments(command.pairs);
  if (command.data !== undefined && command.data !== "-") return parseJsonArguments(command.data, "--data");
  if (command.data === "-" || process.stdin.isTTY !== true) {
    const text = await readStandardInput();
    if (text.trim() === "") return command.data === "-" ? parseJsonArguments(text, "standard input") : {};
    return parseJsonArguments(text, "standard input");
  }
  return {};
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads `key=value` arguments into an object, as `dapr invoke --data` and
 * `faas-cli invoke` users expect: a value that parses as JSON is that JSON
 * (`x=1` is the number 1, `ok=true` a boolean, `tags=["a"]` an array),
 * anything else is the string as written (`name=Ada`). Quote to force a
 * string: `id='"42"'`.
 */
export function parseKeyValueArguments(words: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals <= 0) {
      throw new UsageError(
        equals === 0
          ? `argument "${word}" has no name before "="`
          : `argument "${word}" is not key=value (use --data '{"…": …}' for other JSON)`,
      );
    }
    const key = word.slice(0, equals);
    if (Object.hasOwn(args, key)) throw new UsageError(`argument "${key}" is given twice`);
    args[key] = parseValue(word.slice(equals + 1));
  }
  return args;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Parses `--data` (or standard input) as JSON, with a message that says where it broke. */
export function parseJsonArguments(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}
