import { readSocketTable } from "../dev/ports.js";
import { RATE_WINDOW_SECONDS, callsPerSecond } from "../dev/call-rate.js";
import { readState } from "../dev/state.js";
import type { DevState, ReplicaState, ReplicaStatus } from "../dev/state.js";
import { ExitCode } from "../exit-code.js";
import { painter, printTable, useColour } from "../terminal.js";
import { defineCommand, noPositionals } from "./command.js";
import type { ListOptions } from "./ls.js";

/** `funker status`: every replica of the running `funker dev`. */
export const status = defineCommand({
  name: "status",
  synopsis: "status",
  summary: "functions and replicas: desired and running, idle or busy, calls/s, last error",
  help: `Usage: funker status [options]

Shows each function of the running \`funker dev\`: replicas desired and
running, how many are idle, busy and starting, and calls per second over the
last ${RATE_WINDOW_SECONDS} seconds (AUTOSCALER is "-": funker dev does not
autoscale). Then each replica: its port and process, whether it is
starting, idle, busy or backing off, calls served and failed, processes
recycled (replaced after ending normally: a single-shot replica after each
call), restarts after a failure (a crash, a kill, an exit without a call),
and its last error. Exits 3 when no runtime runs.

Options:
      --json         print JSON
  -f, --file <path>  the funker.yml whose runtime to show
  -h, --help         this help`,
  options: { json: { type: "boolean" } },
  run({ values, positionals }, context) {
    noPositionals(positionals);
    return runStatus({ config: context.loadConfig(values.file), json: values.json === true, colour: useColour(process.stdout) });
  },
});

/** A replica as `funker status` shows it: `idle` split into idle and busy by its open connections. */
interface ReplicaView extends ReplicaStatus {
  readonly state: ReplicaState;
}

/** A function as the first table of `funker status` shows it. */
export interface FunctionSummary {
  readonly mode: string;
  /** Replica slots the runtime keeps. */
  readonly desired: number;
  /** Replicas listening: idle or busy. */
  readonly running: number;
  readonly idle: number;
  readonly busy: number;
  readonly starting: number;
  /** Calls answered per second, over the last `RATE_WINDOW_SECONDS` whole seconds. */
  readonly callsPerSecond: number;
  /** The autoscaler's last scaling of this function; funker dev has no autoscaler. */
  readonly autoscaler: null;
}

function summarize(state: DevState, views: Record<string, ReplicaView[]>, now = Date.now()): Record<string, FunctionSummary> {
  const summaries: Record<string, FunctionSummary> = {};
  for (const [name, replicas] of Object.entries(views)) {
    const count = (wanted: ReplicaState) => replicas.filter((replica) => replica.state === wanted).length;
    summaries[name] = {
      mode: state.functions[name]?.mode ?? "-",
      desired: replicas.length,
      running: count("idle") + count("busy"),
      idle: count("idle"),
      busy: count("busy"),
      starting: count("starting"),
      callsPerSecond: callsPerSecond(replicas.map((replica) => replica.recentCalls ?? []), now),
      autoscaler: null,
    };
  }
  return summaries;
}

/** Calls per second as people read them: whole numbers from 10 up, one decimal below. */
function formatRate(rate: number): string {
  return rate >= 10 ? String(Math.round(rate)) : rate.toFixed(1);
}

/** `funker status`: every replica of the running runtime. Exit code 3 when none runs. */
export async function runStatus(options: ListOptions): Promise<number> {
  const state = readState(options.config.root);
  if (state === undefined) {
    if (options.json) process.stdout.write(`${JSON.stringify({ running: false })}\n`);
    else process.stderr.write("funker: funker dev is not running here; start it with `funker dev`\n");
    return ExitCode.noRuntime;
  }
  const views = await withBusy(state);
  const summaries = summarize(state, views);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ running: true, pid: state.pid, startedAt: state.startedAt, summary: summaries, functions: views, services: state.services ?? {} }, null, 2)}\n`);
    return ExitCode.ok;
  }
  const paint = painter(options.colour);
  const summaryRows = Object.entries(summaries).map(([name, summary]) => [
    name,
    summary.mode,
    String(summary.desired),
    String(summary.running),
    String(summary.idle),
    String(summary.busy),
    String(summary.starting),
    formatRate(summary.callsPerSecond),
    "-",
  ]);
  printTable(["FUNCTION", "MODE", "DESIRED", "RUNNING", "IDLE", "BUSY", "STARTING", "CALLS/S", "AUTOSCALER"], summaryRows);
  process.stdout.write("\n");
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
        String(replica.recycles),
        String(replica.restarts),
        error,
      ]);
    }
  }
  // Services show as one slot each, named alone; they serve no Funker calls, so their call columns are "-".
  for (const [name, service] of Object.entries(state.services ?? {})) {
    const { slot } = service;
    const error = slot.lastError === undefined ? "-" : `${slot.lastError.code}: ${slot.lastError.message}`;
    rows.push([name, String(slot.port), slot.pid === undefined ? "-" : String(slot.pid), slot.state === "idle" ? "running" : slot.state, "-", "-", "-", String(slot.restarts), error]);
  }
  printTable(["REPLICA", "PORT", "PID", "STATE", "CALLS", "FAILED", "RECYCLED", "RESTARTS", "LAST ERROR"], rows);
  for (const [name, functionStatus] of Object.entries(state.functions)) {
    if (functionStatus.buildError !== undefined) process.stdout.write(paint.red(`${name}: the last build failed; running the previous one\n`));
  }
  return ExitCode.ok;
}

/**
 * The runtime records whether a replica listens; whether it holds a call is
 * read here from the kernel's socket table (an accepted connection on its
 * port), without connecting, which would be a call to a single-shot replica.
 */
async function withBusy(state: DevState): Promise<Record<string, ReplicaView[]>> {
  const table = await readSocketTable();
  const views: Record<string, ReplicaView[]> = {};
  for (const [name, functionStatus] of Object.entries(state.functions)) {
    views[name] = functionStatus.replicas.map((replica) => {
      const busy = replica.state === "idle" && (table?.connections.get(replica.port) ?? 0) > 0;
      return { ...replica, state: busy ? "busy" : replica.state };
    });
  }
  return views;
}