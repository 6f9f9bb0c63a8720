import type { FunkerConfig } from "./config.js";
import { relativeTo } from "./bundle.js";
import { readSocketTable } from "./ports.js";
import { readState } from "./state.js";
import type { DevState, ReplicaState, ReplicaStatus } from "./state.js";
import { painter } from "./terminal.js";

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
    return 0;
  }
  const paint = painter(options.colour);
  printTable(
    ["NAME", "MODE", "REPLICAS", "ENTRY", "ENDPOINTS"],
    rows.map((row) => [row.name, row.mode, String(row.replicas), row.entry, row.endpoints.join(",") || "-"]),
  );
  process.stdout.write(
    paint.dim(state === undefined ? "funker dev is not running here\n" : `funker dev runs as pid ${state.pid}\n`),
  );
  return 0;
}

/** A replica as `funker status` shows it: `idle` split into idle and busy by its open connections. */
interface ReplicaView extends ReplicaStatus {
  readonly state: ReplicaState;
}

/** `funker status`: every replica of the running runtime. Exit code 3 when none runs. */
export async function runStatus(options: ListOptions): Promise<number> {
  const state = readState(options.config.root);
  if (state === undefined) {
    if (options.json) process.stdout.write(`${JSON.stringify({ running: false })}\n`);
    else process.stderr.write("funker: funker dev is not running here; start it with `funker dev`\n");
    return 3;
  }
  const views = await withBusy(state);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ running: true, pid: state.pid, startedAt: state.startedAt, functions: views }, null, 2)}\n`);
    return 0;
  }
  const paint = painter(options.colour);
  const rows: string[][] = [];
  for (const [name, replicas] of Object.entries(views)) {
    for (const replica of replicas) {
      const error = replica.lastError === undefined ? "-" : `${replica.lastError.code}: ${replica.lastError.message}`;
      rows.push([
        `${name}.${replica.replica}`,
        String(replica.port),
        replica.pid === undefined ? "-" : String(replica.pid),
        replica.state,
        String(replica.calls),
        String(replica.failedCalls),
        String(replica.restarts),
        error,
      ]);
    }
  }
  printTable(["REPLICA", "PORT", "PID", "STATE", "CALLS", "FAILED", "RESTARTS", "LAST ERROR"], rows);
  for (const [name, status] of Object.entries(state.functions)) {
    if (status.buildError !== undefined) process.stdout.write(paint.red(`${name}: the last build failed; running the previous one\n`));
  }
  return 0;
}

/**
 * The runtime records whether a replica listens; whether it holds a call is
 * read here from the kernel's socket table (an accepted connection on its
 * port), without connecting, which would be a call to a single-shot replica.
 */
async function withBusy(state: DevState): Promise<Record<string, ReplicaView[]>> {
  const table = await readSocketTable();
  const views: Record<string, ReplicaView[]> = {};
  for (const [name, status] of Object.entries(state.functions)) {
    views[name] = status.replicas.map((replica) => {
      const busy = replica.state === "idle" && (table?.connections.get(replica.port) ?? 0) > 0;
      return { ...replica, state: busy ? "busy" : replica.state };
    });
  }
  return views;
}

function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${[format(headers), ...rows.map(format)].join("\n")}\n`);
}
