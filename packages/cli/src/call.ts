import { dirname, resolve } from "node:path";
import { call } from "@funker/client";
import type { CallOptions } from "@funker/client";
import { FunkerError } from "@funker/protocol";
import { parseJsonArguments, parseKeyValueArguments } from "./arguments.js";
import { findConfigFile } from "./config.js";
import { readState, stateFilePath } from "./state.js";

export interface CallCommand {
  readonly name: string;
  readonly pairs: readonly string[];
  readonly data: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly legacy: boolean;
  readonly endpoint: string | undefined;
  readonly json: boolean;
  readonly configFile: string | undefined;
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
      return 3;
    }
    const addresses = found.endpoints[command.name];
    if (addresses === undefined || addresses.length === 0) {
      const known = Object.keys(found.endpoints).sort().join(", ");
      return printFailure(command, new FunkerError("not_found", `no function "${command.name}" in the running funker dev (functions: ${known})`));
    }
    options.endpoints = addresses;
  }

  try {
    const result = await call(command.name, args, options);
    const shown = result === undefined ? null : result;
    if (command.json) process.stdout.write(`${JSON.stringify({ ok: true, result: shown })}\n`);
    else process.stdout.write(`${JSON.stringify(shown, null, process.stdout.isTTY === true ? 2 : undefined)}\n`);
    return 0;
  } catch (error) {
    return printFailure(command, FunkerError.from(error));
  }
}

function printFailure(command: CallCommand, error: FunkerError): number {
  if (command.json) {
    const wire: Record<string, unknown> = { code: error.code, message: error.message };
    if (error.data !== undefined) wire["data"] = error.data;
    if (error.remoteName !== undefined) wire["name"] = error.remoteName;
    process.stdout.write(`${JSON.stringify({ ok: false, error: wire })}\n`);
  } else {
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
  }
  return 1;
}

function hasEndpointsInEnvironment(): boolean {
  const value = process.env["FUNKER_ENDPOINTS"];
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
