import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { parseConfig, buildImages } from "../../packages/cli/src/internal.js";
import { buildSupportImages } from "../build-images.mjs";
import { docker, newRunId } from "../e2e/support.js";
import { writeResults } from "./results.js";
import { describeCluster, pushByContent, repository, script } from "./support.js";

/**
 * Brings the three-node cluster up from nothing (`cluster.sh down`, then
 * `up`: whatever an aborted run left is removed first), builds this run's
 * images on the manager's engine with `funker build`'s code, pushes each to
 * the cluster's registry by content and hands the tests their references by
 * digest. The teardown writes the figures to bench/results and takes the
 * cluster down, whatever happened. FUNKER_CLUSTER_KEEP=1 reuses a cluster
 * that is up and leaves it up (for working on the tests).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const keep = process.env["FUNKER_CLUSTER_KEEP"] === "1";
  const full = process.env["FUNKER_CLUSTER_FULL"] === "1";
  if (!keep) await script(["down"], process.pid);
  const up = await script(["up"], process.pid);
  process.stdout.write(up.stderr);
  const upSeconds = (Date.now() - started) / 1000;
  const layout = await describeCluster();

  const runId = newRunId(process.pid, randomBytes(2).toString("hex"));
  const local = (name: string): string => `funker-cluster/${name}:${runId}`;
  const support = await buildSupportImages({ caller: local("caller"), handlerNode: local("handler-node"), log: () => {} });
  const config = parseConfig(
    `version: 1
name: ${runId}
functions:
  ledger: { entry: docker/cluster-e2e/ledger/handler.ts, volumes: ["/tmp:/ledger"] }
  ledger-caller: { entry: docker/cluster-e2e/caller/ledger-caller.ts }
`,
    join(repository, "funker.yml"),
  );
  // The caller is bundled and built as a function is (one file on the base image); it is run with its own command line.
  const built = await buildImages(config, { output: { write: () => true }, imageFor: (spec) => local(spec.name) });
  if (!built.ok) throw new Error(built.message);
  const images = {
    caller: await pushByContent(support.caller, layout.registry, "funker-cluster/caller"),
    ledger: await pushByContent(local("ledger"), layout.registry, "funker-cluster/ledger"),
    ledgerCaller: await pushByContent(local("ledger-caller"), layout.registry, "funker-cluster/ledger-caller"),
  };
  // Every node pulls every image now, by digest, from the registry: the
  // tests' containers then start alike on each node.
  await Promise.all(layout.nodes.flatMap((node) => Object.values(images).map((image) => docker(["-H", `unix://${node.socket}`, "pull", "-q", image]))));
  // Under the cluster's folder, so that `cluster.sh down` removes it even when this process is killed.
  const figuresDir = join(layout.root, "work", runId, "figures");
  mkdirSync(figuresDir, { recursive: true });
  process.stdout.write(`[cluster e2e] cluster up in ${upSeconds.toFixed(0)} s, images built and pushed in ${((Date.now() - started) / 1000 - upSeconds).toFixed(0)} s: ${JSON.stringify(images)}\n`);

  project.provide("runId", runId);
  project.provide("cluster", layout);
  project.provide("clusterImages", images);
  project.provide("clusterFull", full);
  project.provide("figuresDir", figuresDir);

  return async () => {
    try {
      writeResults({ figuresDir, layout, full, startedAt: started, stageSeconds: (Date.now() - started) / 1000 });
    } finally {
      rmSync(join(layout.root, "work", runId), { recursive: true, force: true });
      if (!keep) await script(["down"], process.pid);
      process.stdout.write(`[cluster e2e] stage time: ${Math.round((Date.now() - started) / 1000)} s (cluster up, images pushed, tests run${keep ? "" : ", cluster down"})\n`);
    }
  };
}
