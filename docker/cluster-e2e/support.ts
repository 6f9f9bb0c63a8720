import { spawn } from "node:child_process";
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";
import { parseConfig, deployFunctions, runDocker } from "../../packages/cli/src/internal.js";
import type { FunctionMode, DockerResult } from "../../packages/cli/src/internal.js";
import { docker, removeServices, TEST_LABEL, waitFor } from "../e2e/support.js";

export const repository = fileURLToPath(new URL("../..", import.meta.url));
export const CLUSTER_SCRIPT = join(repository, "docker/cluster/cluster.sh");

/** One node of the test cluster, as `cluster.sh describe` gives it. */
export interface ClusterNode {
  readonly name: string;
  /** The node's hostname, which Swarm shows (`docker node ls`, `docker service ps`). */
  readonly hostname: string;
  readonly ip: string;
  readonly socket: string;
  readonly netns: string;
  readonly veth: string;
  readonly cgroupParent: string;
}

export interface ClusterLayout {
  readonly managers: 1 | 3;
  /** `host:port` of the registry every node pulls from. */
  readonly registry: string;
  readonly bridge: string;
  readonly nodes: readonly ClusterNode[];
  /** The cluster's folder on this machine: every node sees the same files there. */
  readonly root: string;
  readonly baseImage: string;
}

/** The images of this run, each as `<registry>/<repository>@sha256:…`: every node runs the same bytes. */
export interface ClusterImages {
  readonly caller: string;
  readonly ledger: string;
  readonly ledgerCaller: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterLayout;
    clusterImages: ClusterImages;
    /** A longer load for the figures kept in bench/results (FUNKER_CLUSTER_FULL=1); CI runs the short one. */
    clusterFull: boolean;
    /** Where each test leaves its figures; the global teardown writes bench/results from them. */
    figuresDir: string;
  }
}

export function cluster(): ClusterLayout {
  return inject("cluster");
}

export function clusterImages(): ClusterImages {
  return inject("clusterImages");
}

export function isFull(): boolean {
  return inject("clusterFull");
}

export function node(name: string): ClusterNode {
  const found = cluster().nodes.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no node ${name} in the cluster`);
  return found;
}

/** The layout from `cluster.sh describe` (the script is its one source). */
export async function describeCluster(): Promise<ClusterLayout> {
  return JSON.parse((await script(["describe"])).stdout) as ClusterLayout;
}

/**
 * Runs `cluster.sh` (up, down, cut, restore, power-off, power-on…) and
 * throws with its output when it fails. The script names each node's
 * engine itself; its plain `docker` is the host's engine (where the base
 * image comes from), so this stage's DOCKER_HOST (the cluster's manager) is
 * not passed on. `owner` is the pid that holds the cluster (`up` and `down`
 * by anyone else refuse while it lives): the global setup's process.
 */
export function script(args: readonly string[], owner?: number): Promise<{ stdout: string; stderr: string }> {
  const { DOCKER_HOST: _manager, ...environment } = process.env;
  const env = owner === undefined ? environment : { ...environment, FUNKER_CLUSTER_OWNER: String(owner) };
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [CLUSTER_SCRIPT, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`cluster.sh ${args.join(" ")} failed (exit ${code}):\n${stdout}${stderr}`))));
  });
}

/** `docker` against one node's engine; the manager (n1) is the default DOCKER_HOST of this stage. */
export function onNode(nodeName: string, args: readonly string[], options: { input?: string } = {}): Promise<DockerResult> {
  return runDocker(["-H", `unix://${node(nodeName).socket}`, ...args], options);
}

/** A folder of this run under the cluster's root, which every node mounts from the same place; writable by the images' user (uid 1000). */
export function workFolder(runId: string, name: string): string {
  const folder = join(cluster().root, "work", runId, name);
  mkdirSync(folder, { recursive: true });
  chownSync(folder, 1000, 1000);
  return folder;
}

// ---------------------------------------------------------------- the registry

/**
 * What `funker build --push` is to do: tag a built image by its content (the
 * first 12 hex digits of its image id), push it to the registry, and return
 * the reference by digest that a deployment should run, so that every node
 * pulls the same bytes whatever a tag says later.
 */
export async function pushByContent(localImage: string, registry: string, repository: string, dockerArgs: readonly string[] = []): Promise<string> {
  const id = (await docker([...dockerArgs, "image", "inspect", "--format", "{{.Id}}", localImage])).trim();
  const contentTag = id.replace(/^sha256:/, "").slice(0, 12);
  const pushed = `${registry}/${repository}:${contentTag}`;
  await docker([...dockerArgs, "tag", localImage, pushed]);
  await docker([...dockerArgs, "push", pushed]);
  const digests = JSON.parse(await docker([...dockerArgs, "image", "inspect", "--format", "{{json .RepoDigests}}", pushed])) as string[];
  const byDigest = digests.find((reference) => reference.startsWith(`${registry}/${repository}@sha256:`));
  if (byDigest === undefined) throw new Error(`${pushed} was pushed but has no digest in ${registry}: ${digests.join(", ")}`);
  return byDigest;
}

// ---------------------------------------------------------------- the ledger function

export interface LedgerDeployment {
  readonly service: string;
  readonly network: string;
  /** The host folder every replica's /ledger is. */
  readonly ledger: string;
}

/**
 * Deploys the ledger function with `funker deploy` (its code, not its
 * command line: the same functions) from a funker.yml that runs the pushed
 * image by digest. `CLUSTER_NODE` comes from Swarm's template
 * `{{.Node.Hostname}}`, so each answer names the node that ran the call.
 * Modes are a parameter so that a mode the handler gains later is one more
 * value here.
 */
export async function deployLedger(options: {
  runId: string;
  service: string;
  network: string;
  replicas: number;
  mode?: FunctionMode;
  concurrency?: number;
}): Promise<LedgerDeployment> {
  const ledger = workFolder(options.runId, `${options.service}-ledger`);
  const config = parseConfig(
    `version: 1
name: ${options.runId}
network: ${options.network}
functions:
  ${options.service}:
    entry: docker/cluster-e2e/ledger/handler.ts
    image: ${clusterImages().ledger}
    replicas: ${options.replicas}
    mode: ${options.mode ?? "reuse"}
    concurrency: ${options.concurrency ?? 4}
    timeout: 30s
    volumes: ["${ledger}:/ledger"]
    environment: { CLUSTER_NODE: "{{.Node.Hostname}}", FUNKER_LOG: "off" }
`,
    join(repository, "funker.yml"),
  );
  const progress: string[] = [];
  const outcome = await deployFunctions(config, { output: { write: (text: string) => progress.push(text) }, waitMs: 120_000 });
  if (!outcome.ok) throw new Error(`funker deploy failed: ${outcome.message}\n${progress.join("")}`);
  return { service: options.service, network: options.network, ledger };
}

/** The network every test's functions and callers share; created once per file, labelled for clean-up. */
export async function createNetwork(runId: string, name: string, extra: readonly string[] = []): Promise<string> {
  await docker(["network", "create", "--driver", "overlay", "--attachable", "--label", `${TEST_LABEL}=${runId}`, ...extra, name]);
  return name;
}

export async function removeNetwork(name: string): Promise<void> {
  await runDocker(["network", "rm", name]);
}

export { removeServices };

/** Running tasks of a service per node hostname (`docker service ps`). */
export async function placement(service: string): Promise<Record<string, number>> {
  const listed = await docker(["service", "ps", service, "--filter", "desired-state=running", "--format", "{{.Node}} {{.CurrentState}}"]);
  const counts: Record<string, number> = {};
  for (const line of listed.split("\n")) {
    const [host, state] = line.split(" ");
    if (host === undefined || host === "" || state !== "Running") continue;
    counts[host] = (counts[host] ?? 0) + 1;
  }
  return counts;
}

/** Waits until `service` runs `replicas` tasks, none of them on `avoid`; returns when, in epoch ms. */
export function waitForPlacement(service: string, replicas: number, avoid: readonly string[] = [], timeoutMs = 120_000): Promise<number> {
  return waitFor(
    `${service} to run ${replicas} tasks${avoid.length > 0 ? ` away from ${avoid.join(", ")}` : ""}`,
    async () => {
      const counts = await placement(service);
      const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
      return total === replicas && avoid.every((host) => counts[host] === undefined) ? Date.now() : undefined;
    },
    timeoutMs,
  );
}

// ---------------------------------------------------------------- callers and their records

/**
 * The client's limits the callers run with: its defaults
 * (packages/client/README.md). A connection not made within
 * `connectTimeoutMs` is given up (the call goes elsewhere); a call whose
 * replica is silent for `heartbeatMisses` intervals fails with
 * handler_crashed.
 */
export const CLIENT_LIMITS = { connectTimeoutMs: 1000, heartbeatIntervalMs: 5000, heartbeatMisses: 3 } as const;

/** What one caller was told about one call (docker/cluster-e2e/caller/ledger-caller.ts writes them). */
export interface CallRecord {
  readonly caller: string;
  readonly id: string;
  readonly sent: number;
  readonly ended: number;
  /** The node whose replica answered; undefined when the call failed. */
  readonly node: string | undefined;
  readonly code: string | undefined;
  readonly mayHaveRun: boolean | undefined;
}

export interface CallerSummary {
  caller: string;
  calls: number;
  ok: number;
  failed: number;
  failures: Record<string, number>;
  /** With `eachReplica`: every address of `tasks.<name>` and the node that answered there (or `error <code>`). */
  replicas: Record<string, string>;
}

/**
 * Starts a `ledger-caller` container on each of `nodes`, detached, joined to
 * the function's network, and lets them all begin their load at once
 * (`started`, epoch ms) when the last one runs; `finished()` waits for them,
 * then returns their summaries and every record.
 */
export async function startCallers(options: {
  runId: string;
  deployment: LedgerDeployment;
  nodes: readonly string[];
  seconds: number;
  concurrency: number;
  /** First one call to every replica from each caller (its own node's too). */
  eachReplica?: boolean;
  /** First one call to every replica from each caller; then load only replicas on other nodes than the caller's. */
  crossNodeOnly?: boolean;
  /** Calls/s per caller, a steady load; calls back to back when absent. */
  rate?: number;
}): Promise<{ started: number; finished: () => Promise<{ summaries: CallerSummary[]; records: CallRecord[] }> }> {
  const records = workFolder(options.runId, `${options.deployment.service}-records`);
  const containers: { node: string; name: string }[] = [];
  for (const nodeName of options.nodes) {
    const name = `${options.deployment.service}-caller-${nodeName}`;
    const run = await onNodeRetryingNetwork(nodeName, [
      "run", "--detach", "--name", name, "--net", options.deployment.network, "--label", `${TEST_LABEL}=${options.runId}`,
      "--volume", `${records}:/records`, clusterImages().ledgerCaller,
      "node", "handler.mjs", "--function", options.deployment.service, "--caller", nodeName, "--records", `/records/${nodeName}.jsonl`,
      "--seconds", String(options.seconds), "--concurrency", String(options.concurrency),
      "--connect-timeout", String(CLIENT_LIMITS.connectTimeoutMs), "--heartbeat", String(CLIENT_LIMITS.heartbeatIntervalMs),
      "--start-file", "/records/start",
      ...(options.eachReplica === true ? ["--each-replica"] : []),
      ...(options.crossNodeOnly === true ? ["--avoid-node", node(nodeName).hostname] : []),
      ...(options.rate === undefined ? [] : ["--rate", String(options.rate)]),
    ]);
    if (run.code !== 0) throw new Error(`the caller on ${nodeName} did not start:\n${run.stderr}`);
    containers.push({ node: nodeName, name });
  }
  writeFileSync(join(records, "start"), "");
  return {
    started: Date.now(),
    finished: async () => {
      const summaries: CallerSummary[] = [];
      for (const { node: nodeName, name } of containers) {
        const waited = await onNode(nodeName, ["wait", name]);
        const logs = await onNode(nodeName, ["logs", name]);
        if (waited.stdout.trim() !== "0") throw new Error(`the caller on ${nodeName} exited with ${waited.stdout.trim()}${waited.stderr}:\n${logs.stdout}${logs.stderr}`);
        summaries.push(JSON.parse(logs.stdout.trim().split("\n").pop() ?? "{}") as CallerSummary);
        await onNode(nodeName, ["rm", name]);
      }
      return { summaries, records: readRecords(records) };
    },
  };
}

/**
 * `docker run` on a node, tried again when the engine says the network is
 * "not found": a worker learns of an attachable overlay network only when a
 * container there first joins it, and Docker 20.10 can lose that race.
 * Nothing ran, so trying again is safe.
 */
export async function onNodeRetryingNetwork(nodeName: string, args: readonly string[]): Promise<DockerResult> {
  for (let attempt = 1; ; attempt += 1) {
    const result = await onNode(nodeName, args);
    if (result.code !== 125 || !/network \S+ not found|No such network/i.test(result.stderr) || attempt === 10) return result;
    await onNode(nodeName, ["rm", "-f", args[args.indexOf("--name") + 1] ?? ""]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export function readRecords(folder: string): CallRecord[] {
  const records: CallRecord[] = [];
  for (const file of readdirSync(folder).filter((name) => name.endsWith(".jsonl"))) {
    const caller = file.replace(/\.jsonl$/, "");
    for (const line of readFileSync(join(folder, file), "utf8").split("\n")) {
      if (line === "") continue;
      const [id, sent, ended, answeredBy, code, mayHaveRun] = JSON.parse(line) as [string, number, number, string | null, string | null, boolean | null];
      records.push({ caller, id, sent, ended, node: answeredBy ?? undefined, code: code ?? undefined, mayHaveRun: mayHaveRun ?? undefined });
    }
  }
  return records;
}

/** How many times each call id ran, from every replica's ledger file. */
export function readLedger(folder: string): Map<string, number> {
  const runs = new Map<string, number>();
  for (const file of readdirSync(folder)) {
    for (const id of readFileSync(join(folder, file), "utf8").split("\n")) {
      if (id !== "") runs.set(id, (runs.get(id) ?? 0) + 1);
    }
  }
  return runs;
}

/**
 * What callers were told against what ran. Every answered call ran exactly
 * once; a call reported as certainly not run did not run; a call that may
 * have run ran at most once; nothing ran that no caller sent (`alsoSent`:
 * ids of calls made another way, such as the caller image's `call`).
 */
export interface Reconciliation {
  readonly calls: number;
  readonly answered: number;
  readonly failedNotRun: number;
  readonly failedMayHaveRun: number;
  /** Of the calls that may have run: how many did. */
  readonly mayHaveRunAndRan: number;
  readonly violations: readonly string[];
}

export function reconcile(records: readonly CallRecord[], ledger: ReadonlyMap<string, number>, alsoSent: readonly string[] = []): Reconciliation {
  const violations: string[] = [];
  let answered = 0;
  let failedNotRun = 0;
  let failedMayHaveRun = 0;
  let mayHaveRunAndRan = 0;
  const sent = new Set<string>(alsoSent);
  for (const record of records) {
    sent.add(record.id);
    const runs = ledger.get(record.id) ?? 0;
    if (runs > 1) violations.push(`${record.id} ran ${runs} times`);
    if (record.code === undefined) {
      answered += 1;
      if (runs === 0) violations.push(`${record.id} was answered but is in no ledger (an accepted call lost)`);
    } else if (record.mayHaveRun === false) {
      failedNotRun += 1;
      if (runs > 0) violations.push(`${record.id} failed with ${record.code}, "certainly not run", but ran`);
    } else {
      failedMayHaveRun += 1;
      if (runs > 0) mayHaveRunAndRan += 1;
    }
  }
  for (const id of ledger.keys()) if (!sent.has(id)) violations.push(`${id} ran but no caller recorded it`);
  return { calls: records.length, answered, failedNotRun, failedMayHaveRun, mayHaveRunAndRan, violations: violations.slice(0, 20) };
}

// ---------------------------------------------------------------- figures

/** When the first of `records` was sent and the last ended, epoch ms (a loop: a load has too many records to spread into Math.min). */
export function span(records: readonly CallRecord[]): { start: number; end: number } {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const record of records) {
    start = Math.min(start, record.sent);
    end = Math.max(end, record.ended);
  }
  return { start, end };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** Answered calls per second in [from, to), counted by when they ended. */
export function rate(records: readonly CallRecord[], from: number, to: number): number {
  if (to <= from) return 0;
  const answered = records.filter((record) => record.code === undefined && record.ended >= from && record.ended < to).length;
  return answered / ((to - from) / 1000);
}

/**
 * When throughput was back after a disruption at `disruptedAt`: the first
 * moment from which every one-second window, for `sustainMs`, answered at
 * least `fraction` of the rate of the `baselineMs` before the disruption.
 * Taking the first such moment, not the last dip, keeps the load of other
 * work on a shared machine out of the figure. `recoveredAfterMs` is
 * undefined when the load ended first.
 */
export function recovery(
  records: readonly CallRecord[],
  disruptedAt: number,
  options: { baselineMs: number; end: number; fraction?: number; sustainMs?: number },
): { baseline: number; recoveredAfterMs: number | undefined; lowest: number } {
  const baseline = rate(records, disruptedAt - options.baselineMs, disruptedAt);
  const threshold = (options.fraction ?? 0.9) * baseline;
  const sustainMs = options.sustainMs ?? 5_000;
  const stepMs = 250;
  let lowest = Number.POSITIVE_INFINITY;
  let goodSince: number | undefined;
  for (let start = disruptedAt; start + 1000 <= options.end; start += stepMs) {
    const current = rate(records, start, start + 1000);
    if (current < threshold) {
      goodSince = undefined;
      lowest = Math.min(lowest, current);
    } else {
      goodSince ??= start;
      if (start + 1000 - goodSince >= sustainMs) return { baseline, recoveredAfterMs: goodSince - disruptedAt, lowest: Number.isFinite(lowest) ? lowest : baseline };
    }
  }
  return { baseline, recoveredAfterMs: undefined, lowest: Number.isFinite(lowest) ? lowest : baseline };
}

/** Leaves one test's figures for the global teardown, which writes bench/results/multi-node.{json,md}. */
export function keepFigures(name: string, figures: Record<string, unknown>): void {
  writeFileSync(join(inject("figuresDir"), `${name}.json`), `${JSON.stringify({ name, ...figures }, null, 2)}\n`);
  process.stdout.write(`[cluster e2e] ${name}: ${JSON.stringify(figures)}\n`);
}

// ---------------------------------------------------------------- disruptions under load

/** Waits until the Swarm sees `nodeName` Ready (and, when given, with that availability); returns when, in epoch ms. */
export function waitForNode(nodeName: string, availability?: "active" | "drain", timeoutMs = 120_000): Promise<number> {
  const hostname = node(nodeName).hostname;
  return waitFor(`${hostname} to be Ready${availability === undefined ? "" : ` and ${availability}`}`, async () => {
    const listed = await docker(["node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.Availability}}"]);
    const line = listed.split("\n").find((candidate) => candidate.startsWith(`${hostname} `));
    const [, status, current] = (line ?? "").split(" ");
    return status === "Ready" && (availability === undefined || current?.toLowerCase() === availability) ? Date.now() : undefined;
  }, timeoutMs);
}

/**
 * The load of the failure and drain tests: one replica per node, callers
 * each making `ratePerCaller` calls/s over `concurrency` loops: steady, and
 * well below what the machine serves (see 1-cross-node), so that a dip in
 * answered calls is the disruption's, not the scheduler's.
 */
export const STEADY_LOAD = { replicas: 3, concurrency: 4, ratePerCaller: 200 } as const;

/** Whether a `placement()` is one task on each node of the cluster and nowhere else. */
export function isOnePerNode(spread: Readonly<Record<string, number>>): boolean {
  return Object.keys(spread).length === cluster().nodes.length && cluster().nodes.every((each) => spread[each.hostname] === 1);
}

/** The ledger function on a network of its own, for STEADY_LOAD. */
export async function deployForDisruption(runId: string, service: string, mode: FunctionMode): Promise<LedgerDeployment> {
  const network = await createNetwork(runId, service);
  return deployLedger({ runId, service, network, replicas: STEADY_LOAD.replicas, mode, concurrency: STEADY_LOAD.concurrency });
}

export async function removeDeployment(deployment: LedgerDeployment): Promise<void> {
  await removeServices([deployment.service]);
  await removeNetwork(deployment.network);
}

export interface DisruptionRun {
  readonly records: CallRecord[];
  readonly summaries: CallerSummary[];
  /** When the disruption began, epoch ms. */
  readonly disruptedAt: number;
  /** When Swarm ran every replica away from the disrupted node again, epoch ms. */
  readonly movedAt: number;
  /** When the first caller stopped calling: until then every caller was calling. */
  readonly loadEnd: number;
}

/**
 * The shape of every failure test: from one task per node, callers on
 * `callerNodes` load the function with STEADY_LOAD for 8 s (20 s in a full
 * run), then `disrupt()`
 * acts on `nodeName`; the run waits
 * until Swarm runs all `replicas` elsewhere, then for the callers to finish
 * (`afterMs` after the disruption at the least).
 */
export async function loadThroughDisruption(options: {
  runId: string;
  deployment: LedgerDeployment;
  callerNodes: readonly string[];
  nodeName: string;
  afterMs: number;
  disrupt: () => Promise<unknown>;
}): Promise<DisruptionRun> {
  const warmMs = isFull() ? 20_000 : 8_000;
  const before = await placement(options.deployment.service);
  if (!isOnePerNode(before)) throw new Error(`${options.deployment.service} should start with one task per node: ${JSON.stringify(before)}`);
  const callers = await startCallers({
    runId: options.runId,
    deployment: options.deployment,
    nodes: options.callerNodes,
    seconds: (warmMs + options.afterMs) / 1000,
    concurrency: STEADY_LOAD.concurrency,
    rate: STEADY_LOAD.ratePerCaller,
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, callers.started + warmMs - Date.now())));
  const disruptedAt = Date.now();
  await options.disrupt();
  const movedAt = await waitForPlacement(options.deployment.service, STEADY_LOAD.replicas, [node(options.nodeName).hostname], options.afterMs + 60_000);
  const { records, summaries } = await callers.finished();
  const loadEnd = Math.min(...options.callerNodes.map((caller) => span(records.filter((record) => record.caller === caller)).end));
  return { records, summaries, disruptedAt, movedAt, loadEnd };
}
