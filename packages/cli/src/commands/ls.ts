import { relativeTo } from "../bundle.js";
import type { FunkerConfig } from "../config/funker-yml.js";
import { readState } from "../dev/state.js";
import { ExitCode } from "../exit-code.js";
import { painter, printTable, useColour } from "../terminal.js";
import { defineCommand, noPositionals } from "./command.js";

/** `funker ls`: the functions of funker.yml, and where they listen. */
export const ls = defineCommand({
  name: "ls",
  aliases: ["list"],
  synopsis: "ls",
  summary: "list the functions and where they listen",
  help: `Usage: funker ls [options]

Lists the functions of funker.yml: mode, replicas, entry, and where each
listens when \`funker dev\` runs.

Options:
      --json         print JSON
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,
  options: { json: { type: "boolean" } },
  run({ values, positionals }, context) {
    noPositionals(positionals);
    return runList({ config: context.loadConfig(values.file), json: values.json === true, colour: useColour(process.stdout) });
  },
});

export interface ListOptions {
  readonly config: FunkerConfig;
  readonly json: boolean;
  readonly colour: boolean;
}

/** `funker ls`: the functions of funker.yml, and where they listen when `funker dev` runs. */
export function runList(options: ListOptions): number {
  const { config } = options;
  const state = readState(config.root);
  const rows = config.functions.map((spec) => ({
    name: spec.name,
    mode: spec.mode,
    replicas: spec.replicas,
    entry: relativeTo(config.root, spec.entry),
    image: spec.image,
    endpoints: state?.endpoints[spec.name] ?? [],
  }));
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ running: state !== undefined, pid: state?.pid ?? null, functions: rows }, null, 2)}\n`);
    return ExitCode.ok;
  }
  const paint = painter(options.colour);
  printTable(
    ["NAME", "MODE", "REPLICAS", "ENTRY", "ENDPOINTS"],
    rows.map((row) => [row.name, row.mode, String(row.replicas), row.entry, row.endpoints.join(",") || "-"]),
  );
  process.stdout.write(
    paint.dim(state === undefined ? "funker dev is not running here\n" : `funker dev runs as pid ${state.pid}\n`),
  );
  return ExitCode.ok;
}
