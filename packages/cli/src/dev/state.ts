import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EndpointMap } from "./endpoints.js";
import type { CallCounts } from "./call-rate.js";
import type { FunctionMode } from "../config/funker-yml.js";

/** What a replica is doing, as `funker status` shows it. */
export type ReplicaState = "starting" | "idle" | "busy" | "backing-off" | "stopped";

/** The last failure of a replica: a failed call or an abnormal exit. */
export interface ReplicaError {
  readonly code: string;
  readonly message: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

export interface ReplicaStatus {
  /** 1-based, as in the `add.1 |` prefix. */
  readonly replica: number;
  readonly port: number;
  readonly pid: number | undefined;
  /** `idle` here means "listening"; `funker status` tells idle from busy by the replica's open connections. */
  readonly state: ReplicaState;
  /** Calls this replica slot has served, over every process that filled it. */
  readonly calls: number;
  /** Calls per whole second lately (see `call-rate.ts`); absent from a state written by an older runtime. */
  readonly recentCalls?: CallCounts;
  readonly failedCalls: number;
  /** Processes started in this slot after one that ended normally: a single-shot replica after its call, a reuse one after `maxCalls`. */
  readonly recycles: number;
  /** Processes started in this slot after one that failed: a crash, a kill, an exit without serving a call. */
  readonly restarts: number;
  readonly lastError: ReplicaError | undefined;
}

export interface FunctionStatus {
  readonly mode: FunctionMode;
  readonly entry: string;
  /** The last build's error, while the function runs its previous build or none. */
  readonly buildError: string | undefined;
  readonly replicas: readonly ReplicaStatus[];
}

/** A service of `services:` as `funker dev` runs it. */
export interface ServiceStatus {
  /** `127.0.0.1:<port>`: where it listens here, which replaces `<name>:<port>` in variables. */
  readonly address: string;
  /** Its process, as a replica's (`replica` is always 1). */
  readonly slot: ReplicaStatus;
}

/**
 * The state file `funker dev` keeps at `.funker/dev.json` beside `funker.yml`,
 * so that `funker call`, `funker ls` and `funker status` in another terminal
 * find the running runtime. Rewritten (atomically) when a replica changes;
 * ignored when `pid` is no longer alive.
 */
export interface DevState {
  readonly pid: number;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly configFile: string;
  readonly endpoints: EndpointMap;
  readonly functions: Readonly<Record<string, FunctionStatus>>;
  /** Absent in files written before services existed. */
  readonly services?: Readonly<Record<string, ServiceStatus>>;
}

export function stateFilePath(root: string): string {
  return join(root, ".funker", "dev.json");
}

/** Writes through a temporary file and a rename, so a reader never sees half a file. */
export function writeState(root: string, state: DevState): void {
  const file = stateFilePath(root);
  mkdirSync(join(root, ".funker"), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, file);
}

export function removeState(root: string, pid: number): void {
  const current = readStateFile(root);
  if (current === undefined || current.pid === pid) rmSync(stateFilePath(root), { force: true });
}

/** The running runtime's state, or undefined when there is none (no file, or its process is gone). */
export function readState(root: string): DevState | undefined {
  const state = readStateFile(root);
  return state !== undefined && isAlive(state.pid) ? state : undefined;
}

function readStateFile(root: string): DevState | undefined {
  try {
    const value = JSON.parse(readFileSync(stateFilePath(root), "utf8")) as DevState;
    return typeof value.pid === "number" && typeof value.endpoints === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Signal 0 tests for a process without touching it; EPERM means it exists under another user. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
