/**
 * The soak under `funker dev`: a function that records every call it
 * executes, many non-idempotent calls in flight, and a chaos loop that kills
 * replicas with SIGKILL, both mid-call and at random; at the end, every call
 * is reconciled against what executed (reconcile.ts).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@funker/client";
import type { HandlerMode } from "@funker/handler/contract";
import { makeCalls } from "./calls.js";
import { reconcile } from "./reconcile.js";
import type { Reconciliation } from "./reconcile.js";
import { busyReplicas, readExecutions, recordFunctionEntry } from "./records.js";

/** What every soak sets, wherever it runs. */
export interface SoakLoad {
  readonly mode: HandlerMode;
  /** Replicas of the function. */
  readonly replicas: number;
  /** Calls in flight at once. */
  readonly inFlight: number;
  /** Stop making calls after this many, or after `durationMs`, whichever comes first. */
  readonly calls: number;
  readonly durationMs: number;
  /** A kill every this many ms, alternately a replica in the middle of a call and a random one. */
  readonly killEveryMs: number;
  /** A replica this young is spared by the random kills: one killed before it listens only tests start-up. */
  readonly minReplicaAgeMs: number;
  /** Each call sleeps a random time up to this, so that kills land mid-call. */
  readonly maxWorkMs: number;
  /** Each call's timeout. */
  readonly callTimeoutMs: number;
}

export interface SoakOptions extends SoakLoad {
  /** Which kills the chaos loop makes; both by default. */
  readonly kills?: "both" | "mid-call" | "random";
  /** The built `funker` command (packages/cli/dist/bin.js). */
  readonly cli: string;
}

export interface SoakReport extends Reconciliation {
  /** Where it ran: funker dev, or a real Swarm (swarm.ts). */
  readonly target: "funker dev" | "Swarm" | "Swarm, with a rolling update";
  readonly mode: HandlerMode;
  readonly replicas: number;
  readonly inFlight: number;
  readonly seconds: number;
  readonly callsPerSecond: number;
  readonly kills: { readonly midCall: number; readonly random: number };
}

const here = fileURLToPath(new URL(".", import.meta.url));

export function defaultCli(): string {
  return join(here, "..", "..", "cli", "dist", "bin.js");
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  if (!existsSync(options.cli)) throw new Error(`${options.cli} is not built: build @funker/cli first`);
  const workFolder = mkdtempSync(join(tmpdir(), "funker-soak-"));
  const recordsFolder = join(workFolder, "records");
  mkdirSync(recordsFolder);
  try {
    const runtime = await startRuntime(options, workFolder, recordsFolder);
    try {
      return await soakAgainst(runtime, options, recordsFolder);
    } finally {
      await runtime.stop();
    }
  } finally {
    // SOAK_KEEP=1 keeps the execution logs and funker dev's folder, to look into a fault.
    if (process.env["SOAK_KEEP"] === "1") console.error(`soak: kept ${workFolder}`);
    else rmSync(workFolder, { recursive: true, force: true });
  }
}

interface Runtime {
  readonly ports: readonly number[];
  /** The replicas' processes now, from funker dev's state file. */
  replicaPids(): number[];
  stop(): Promise<void>;
  output(): string;
}

interface DevStateFile {
  functions?: Record<string, { replicas: { port: number; pid?: number; state: string }[] }>;
}

async function startRuntime(options: SoakOptions, workFolder: string, recordsFolder: string): Promise<Runtime> {
  const configFile = join(workFolder, "funker.yml");
  writeFileSync(
    configFile,
    [
      "version: 1",
      "name: soak",
      "functions:",
      "  record:",
      `    entry: ${JSON.stringify(recordFunctionEntry())}`,
      `    replicas: ${options.replicas}`,
      `    mode: ${options.mode}`,
      "    environment:",
      `      SOAK_DIR: ${JSON.stringify(recordsFolder)}`,
      "",
    ].join("\n"),
  );
  const environment = { ...process.env };
  // Every replica start would pay for it (tens of ms here); a container has no such variable.
  delete environment["NODE_EXTRA_CA_CERTS"];
  const child: ChildProcess = spawn(process.execPath, [options.cli, "dev", "-f", configFile, "--no-watch"], {
    cwd: workFolder,
    env: environment,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = once(child, "exit");
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGTERM: the runtime stops its replicas; SIGKILL would orphan them.
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  const stateFile = join(workFolder, ".funker", "dev.json");
  const readState = (): DevStateFile | undefined => {
    try {
      return JSON.parse(readFileSync(stateFile, "utf8")) as DevStateFile;
    } catch {
      return undefined;
    }
  };
  const giveUpAt = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`funker dev exited (${child.exitCode}): ${tail}`);
      if (Date.now() > giveUpAt) throw new Error(`the replicas did not all listen within 60 s: ${tail}`);
      const replicas = readState()?.functions?.["record"]?.replicas;
      if (replicas !== undefined && replicas.length === options.replicas && replicas.every((replica) => replica.state === "idle")) {
        return {
          ports: replicas.map((replica) => replica.port),
          replicaPids: () => (readState()?.functions?.["record"]?.replicas ?? []).flatMap((replica) => (replica.pid === undefined ? [] : [replica.pid])),
          stop,
          output: () => tail,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}

async function soakAgainst(runtime: Runtime, options: SoakOptions, recordsFolder: string): Promise<SoakReport> {
  const client = createClient({ endpoints: { record: runtime.ports.map((port) => `127.0.0.1:${port}`) }, timeout: options.callTimeoutMs });
  const startedAt = Date.now();

  const kills = { midCall: 0, random: 0 };
  const firstSeen = new Map<number, number>();
  let midCallNext = true;
  const chaos = setInterval(() => {
    const now = Date.now();
    for (const pid of runtime.replicaPids()) if (!firstSeen.has(pid)) firstSeen.set(pid, now);
    const kinds = options.kills ?? "both";
    const midCall = kinds === "both" ? midCallNext : kinds === "mid-call";
    midCallNext = !midCallNext;
    const candidates = midCall
      ? busyReplicas(recordsFolder).map((replica) => replica.pid)
      : runtime.replicaPids().filter((pid) => now - (firstSeen.get(pid) ?? now) >= options.minReplicaAgeMs);
    const victim = candidates[Math.floor(Math.random() * candidates.length)];
    if (victim === undefined) return;
    try {
      process.kill(victim, "SIGKILL");
      if (midCall) kills.midCall += 1;
      else kills.random += 1;
    } catch {
      // Gone already: it exited after its call, as single-shot replicas do.
    }
  }, options.killEveryMs);

  let told: Awaited<ReturnType<typeof makeCalls>>;
  try {
    told = await makeCalls(client, "record", options);
  } finally {
    clearInterval(chaos);
    await client.close();
  }
  const seconds = (Date.now() - startedAt) / 1_000;
  return soakReport("funker dev", options, seconds, kills, reconcile(told, readExecutions(recordsFolder)));
}

/** A soak's report: its setting, its pace and the reconciliation, wherever it ran. */
export function soakReport(target: SoakReport["target"], load: SoakLoad, seconds: number, kills: SoakReport["kills"], result: Reconciliation): SoakReport {
  return {
    target,
    mode: load.mode,
    replicas: load.replicas,
    inFlight: load.inFlight,
    seconds: Math.round(seconds * 10) / 10,
    callsPerSecond: Math.round((result.calls / seconds) * 10) / 10,
    kills,
    ...result,
  };
}
