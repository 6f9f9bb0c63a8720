/**
 * The replica under fuzz: a real process of the handler serving a small
 * function (replica/add-or-echo.mjs), on a loopback port, in the mode under
 * test; with the readings that tell whether it stays flat.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export type FuzzMode = "reuse" | "single-shot" | "fresh";

/** Whether one process serves the whole run: reuse, and fresh, whose supervisor must never die (its processes exit after each call by design). */
export function longLived(mode: FuzzMode): boolean {
  return mode !== "single-shot";
}

export interface ReplicaExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Replica {
  readonly pid: number;
  readonly port: number;
  readonly process: ChildProcess;
  readonly exited: Promise<ReplicaExit>;
  /** The end of what the process wrote on stderr (fault lines, a stack). */
  stderrTail(): string;
  /** The lines the process printed after its port (the memory readings of `memoryAfterCollection`). */
  readonly lines: AsyncIterator<string>;
}

/** `process.memoryUsage()` of the replica after a full garbage collection, in bytes. */
export interface MemoryReading {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

const program = fileURLToPath(new URL("../replica/add-or-echo.mjs", import.meta.url));
const handlerBuild = fileURLToPath(new URL("../../handler/dist/index.js", import.meta.url));

/** What the replica is told: short timeouts, so that a case the replica waits on ends in seconds, and no call log. */
const REPLICA_ENVIRONMENT: Record<string, string> = {
  FUNKER_HOST: "127.0.0.1",
  FUNKER_PORT: "0",
  FUNKER_LOG: "false",
  FUNKER_TIMEOUT: "5s",
  FUNKER_READ_TIMEOUT: "2s",
  FUNKER_IDLE_TIMEOUT: "5s",
  // Fresh mode: a caller waits for a process to start rather than being answered "busy" at once on a loaded machine.
  FUNKER_QUEUE_TIMEOUT: "30s",
};

/** Calls at once in reuse mode: above the fuzz's own connections at once, so that few cases are merely answered "busy". */
export const REUSE_CONCURRENCY = 16;
/** Processes a fresh-mode supervisor keeps started: the fuzz's connections at once, so that a caller seldom waits for one. */
export const FRESH_PROCESSES = 4;

export async function startReplica(mode: FuzzMode): Promise<Replica> {
  if (!existsSync(handlerBuild)) throw new Error(`${handlerBuild} is missing: build first with \`npx turbo run build --filter=@funker/handler\` (pnpm test does it)`);
  const environment: Record<string, string | undefined> = { ...process.env, ...REPLICA_ENVIRONMENT, FUNKER_MODE: mode, NODE_ENV: "" };
  if (mode === "reuse") environment["FUNKER_CONCURRENCY"] = String(REUSE_CONCURRENCY);
  if (mode === "fresh") environment["FUNKER_CONCURRENCY"] = String(FRESH_PROCESSES);
  // Every start would pay for it (tens of ms); a container has no such variable.
  delete environment["NODE_EXTRA_CA_CERTS"];
  // --expose-gc: a long-lived replica collects its garbage before each reading of its memory (see replica/add-or-echo.mjs).
  const child = spawn(process.execPath, longLived(mode) ? ["--expose-gc", program] : [program], { env: environment, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4_000);
  });
  const exited = new Promise<ReplicaExit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await Promise.race([lines.next(), exited]);
  if (!("value" in first) || typeof first.value !== "string") {
    throw new Error(`the replica exited (${"code" in first ? (first.code ?? first.signal) : "its output ended"}) before it listened: ${stderr}`);
  }
  const { port } = JSON.parse(first.value) as { port: number };
  const pid = child.pid;
  if (pid === undefined) throw new Error("the replica has no pid");
  return { pid, port, process: child, exited, stderrTail: () => stderr, lines };
}

/**
 * The memory a reuse replica holds: it collects its garbage, then reports.
 * Resident memory read without a collection also counts garbage not yet
 * collected, which comes and goes with the collector's timing.
 */
export async function memoryAfterCollection(replica: Replica): Promise<MemoryReading> {
  replica.process.kill("SIGUSR2");
  for (;;) {
    const next = await replica.lines.next();
    if (next.done === true) throw new Error("the replica closed its output before reporting its memory");
    // A fresh-mode supervisor's processes share its output, and each prints the port it serves.
    const line = JSON.parse(next.value) as { memory?: MemoryReading };
    if (line.memory !== undefined) return line.memory;
  }
}

export function isRunning(replica: Replica): boolean {
  return replica.process.exitCode === null && replica.process.signalCode === null;
}

/** Resident memory of a process, in KiB (Linux: /proc). */
export function residentKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match === null ? Number.NaN : Number(match[1]);
}

/** Open file descriptors of a process (Linux: /proc). */
export function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}
