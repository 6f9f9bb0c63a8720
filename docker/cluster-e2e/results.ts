import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import type { ClusterLayout } from "./support.js";
import { repository } from "./support.js";

/** What each figure means, in the order the report lists them; figures not named here are in the JSON only. */
const LABELS: Record<string, Record<string, string>> = {
  "cross-node": {
    crossNodeCallsPerSecond: "cross-node calls/s: a caller on each node, 4 calls in flight each, to the replicas on the two other nodes (reuse mode, kept connections)",
    crossNodeP50Ms: "cross-node latency p50, ms",
    crossNodeP99Ms: "cross-node latency p99, ms",
    calls: "calls (every one answered and run exactly once)",
  },
  failure: {
    baselineCallsPerSecond: "calls/s before the failure",
    rescheduledAfterMs: "failure → Swarm runs the replica on another node, ms",
    recoveredAfterMs: "failure → throughput back to 90 % of before (for 5 s), ms",
    lowestCallsPerSecond: "lowest calls/s in a 1 s window until then",
    answeredSlowerThanConnectLimit: "calls answered after the failure that took longer than the connect limit (a try at the failed node's address first)",
    lastSlowCallAfterMs: "failure → the last of those answered, ms",
    failedMayHaveRun: "calls failed, told they may have run (of which ran)",
    failedNotRun: "calls failed, told they did not run",
    longestFailedCallMs: "longest failed call, ms",
    calls: "calls",
    healedAfterMs: "node back → Ready in the Swarm, ms",
  },
  drain: {
    baselineCallsPerSecond: "calls/s before the drain",
    movedAfterMs: "drain → replica running on another node, ms",
    recoveredAfterMs: "drain → throughput back to 90 % of before (for 5 s), ms",
    failed: "calls failed",
    calls: "calls (every one answered and run once)",
  },
};

const NOTE =
  "All three nodes are engines in network namespaces of one machine and share its 2 cores (with whatever else runs there): these figures show correctness and recovery, not capacity. Absolute calls/s are far below what separate machines give.";

/**
 * Writes the figures the tests kept to bench/results: multi-node.{json,md}
 * for a full run (FUNKER_CLUSTER_FULL=1), partial.multi-node.* (ignored by
 * git) for the short CI run, so the kept results are always those of a full
 * run.
 */
export function writeResults(options: { figuresDir: string; layout: ClusterLayout; full: boolean; startedAt: number; stageSeconds: number }): void {
  const figures = readdirSync(options.figuresDir)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => JSON.parse(readFileSync(join(options.figuresDir, file), "utf8")) as { name: string; kind?: string } & Record<string, unknown>);
  if (figures.length === 0) return;
  const engine = execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8" }).trim();
  const machine = {
    date: new Date(options.startedAt).toISOString(),
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    engine,
    managers: options.layout.managers,
    nodes: options.layout.nodes.length,
    loadAfter: Number((loadavg()[0] ?? 0).toFixed(2)),
    raftTerm: highestRaftTerm(options.layout),
  };
  const command = `${options.layout.managers === 3 ? "FUNKER_CLUSTER_MANAGERS=3 " : ""}${options.full ? "FUNKER_CLUSTER_FULL=1 " : ""}pnpm test:cluster`;
  const base = join(repository, "bench", "results", options.full ? "multi-node" : "partial.multi-node");
  writeFileSync(`${base}.json`, `${JSON.stringify({ command, machine, stageSeconds: Math.round(options.stageSeconds), note: NOTE, figures }, null, 2)}\n`);

  const lines = [
    `# Multi-node results${options.full ? "" : " (short CI run)"}`,
    "",
    `${machine.date}: \`${command}\`, ${machine.nodes} nodes (${machine.managers === 3 ? "three managers" : "one manager, two workers"}), engine ${engine}, kernel ${machine.kernel}, ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB; load average ${machine.loadAfter} at the end; highest raft term ${machine.raftTerm} (2: no leader election after the first); ${Math.round(options.stageSeconds)} s from the start of the stage to this report.`,
    "",
    `**${NOTE}**`,
    "",
  ];
  for (const entry of figures) {
    const labels = LABELS[entry.kind ?? entry.name] ?? {};
    lines.push(`## ${String(entry["title"] ?? entry.name)}`, "", "| figure | value |", "| --- | --- |");
    for (const [key, label] of Object.entries(labels)) {
      if (entry[key] !== undefined) lines.push(`| ${label} | ${formatValue(entry[key])} |`);
    }
    if (typeof entry["setting"] === "string") lines.push("", entry["setting"]);
    lines.push("");
  }
  lines.push("Method and what each test asserts: docker/README.md (the multi-node stage). Every figure is from the run above; rerun with the command above.", "");
  writeFileSync(`${base}.md`, lines.join("\n"));
  process.stdout.write(`[cluster e2e] figures written to ${base}.json and ${base}.md\n`);
}

/** The highest raft term in the engines' logs: each term past 2 is a leader election the control plane needed during the run. */
function highestRaftTerm(layout: ClusterLayout): number {
  let highest = 0;
  for (const node of layout.nodes) {
    const log = readFileSync(join(layout.root, node.name, "dockerd.log"), "utf8");
    for (const match of log.matchAll(/at term (\d+)/g)) highest = Math.max(highest, Number(match[1]));
  }
  return highest;
}

function formatValue(value: unknown): string {
  if (typeof value === "number") return value.toLocaleString("en-US");
  if (Array.isArray(value)) return value.map(formatValue).join(" (") + (value.length > 1 ? ")" : "");
  return String(value);
}
