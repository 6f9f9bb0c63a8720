import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, runId } from "../e2e/support.js";
import type { LedgerDeployment } from "./support.js";
import {
  cluster,
  clusterImages,
  createNetwork,
  deployLedger,
  isFull,
  keepFigures,
  onNode,
  onNodeRetryingNetwork,
  percentile,
  placement,
  rate,
  readLedger,
  reconcile,
  removeNetwork,
  removeServices,
  span,
  startCallers,
} from "./support.js";

// Three nodes, one registry: `funker deploy` spreads a function's replicas
// over the nodes, every node runs the image the registry holds under one
// digest, and callers on every node reach replicas on the others through the
// overlay network's `tasks.<name>`.
describe("a function on three nodes", () => {
  const service = `${runId()}-spread`;
  const network = `${runId()}-net`;
  const replicasPerNode = 2;
  /** Ids of the calls made with the caller image's `call`, which the ledger holds too. */
  const probes: string[] = [];
  let deployment: LedgerDeployment;

  beforeAll(async () => {
    await createNetwork(runId(), network);
    deployment = await deployLedger({ runId: runId(), service, network, replicas: replicasPerNode * cluster().nodes.length });
  });
  afterAll(async () => {
    await removeServices([service]);
    await removeNetwork(network);
  });

  it("has its replicas spread over the three nodes (docker service ps), each node running the pushed image by its digest", async () => {
    const expected = Object.fromEntries(cluster().nodes.map((node) => [node.hostname, replicasPerNode]));
    expect(await placement(service)).toEqual(expected);

    const image = clusterImages().ledger;
    expect(image).toMatch(new RegExp(`^${cluster().registry.replaceAll(".", "\\.")}/funker-cluster/ledger@sha256:[0-9a-f]{64}$`));
    expect((await docker(["service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", service])).trim()).toBe(image);
    // Each replica's container, on its own node: the reference it was created from, and the image (by id) it runs.
    const imageIds = new Set<string>();
    for (const node of cluster().nodes) {
      const ids = (await onNode(node.name, ["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`])).stdout.trim().split("\n");
      const containers = (await onNode(node.name, ["inspect", "--format", "{{.Config.Image}} {{.Image}}", ...ids])).stdout.trim().split("\n");
      expect(containers, node.name).toHaveLength(replicasPerNode);
      for (const container of containers) {
        const [reference, id] = container.split(" ");
        expect(reference, node.name).toBe(image);
        imageIds.add(id ?? "");
      }
    }
    expect([...imageIds], "one image id on every node").toHaveLength(1);
  });

  it("answers `call` from the caller image, pulled from the registry, on every node", async () => {
    for (const node of cluster().nodes) {
      probes.push(`probe-${node.name}`);
      const run = await onNodeRetryingNetwork(node.name, ["run", "--rm", "--net", network, clusterImages().caller, "call", service, `id=probe-${node.name}`]);
      expect(run.code, `${node.name}: ${run.stderr}`).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ id: `probe-${node.name}`, node: expect.stringMatching(/./) });
    }
  });

  it("serves a caller on each node: every replica answers from every node, then a load over the overlay network to the other nodes' replicas, every call answered and run exactly once", async () => {
    const seconds = isFull() ? 30 : 15;
    const concurrency = 4;
    const callers = await startCallers({ runId: runId(), deployment, nodes: cluster().nodes.map((node) => node.name), seconds, concurrency, crossNodeOnly: true });
    const { records, summaries } = await callers.finished();

    // Every address in tasks.<name>, seen from each node, is a replica that answers, and they are on all three nodes.
    const expectedSpread = Object.fromEntries(cluster().nodes.map((node) => [node.hostname, replicasPerNode]));
    for (const summary of summaries) {
      const spread: Record<string, number> = {};
      for (const answeredBy of Object.values(summary.replicas)) spread[answeredBy] = (spread[answeredBy] ?? 0) + 1;
      expect(spread, `replicas reached from the caller on ${summary.caller}`).toEqual(expectedSpread);
    }
    const failed = records.filter((record) => record.code !== undefined);
    expect(failed.slice(0, 5), `${failed.length} of ${records.length} calls failed`).toEqual([]);
    const reconciled = reconcile(records, readLedger(deployment.ledger), probes);
    expect(reconciled.violations).toEqual([]);
    expect(reconciled.answered).toBe(records.length);

    // Figures over the time every caller was calling.
    const byCaller = cluster().nodes.map((node) => records.filter((record) => record.caller === node.name));
    const from = Math.max(...byCaller.map((list) => span(list).start));
    const to = Math.min(...byCaller.map((list) => span(list).end));
    const hostnameOf = new Map(cluster().nodes.map((node) => [node.name, node.hostname]));
    const crossNode = records.filter((record) => record.node !== hostnameOf.get(record.caller));
    // Only the first sweep's calls to the caller's own node's replicas stay on its node.
    expect(records.length - crossNode.length, "calls answered on the caller's own node").toBe(summaries.length * replicasPerNode);
    const inWindow = (list: typeof records) => list.filter((record) => record.sent >= from && record.ended < to);
    const latency = (list: typeof records, p: number) => Number(percentile(inWindow(list).map((record) => record.ended - record.sent), p).toFixed(2));
    keepFigures("cross-node", {
      title: "Calls across nodes",
      setting: `${replicasPerNode * cluster().nodes.length} replicas, ${replicasPerNode} per node; a caller on each node, ${concurrency} calls in flight, back to back, to the replicas of the two other nodes only; the figures cover the ${((to - from) / 1000).toFixed(1)} s during which all three called.`,
      callers: cluster().nodes.length,
      concurrencyPerCaller: concurrency,
      replicas: replicasPerNode * cluster().nodes.length,
      loadSeconds: seconds,
      windowSeconds: Number(((to - from) / 1000).toFixed(1)),
      calls: records.length,
      crossNodeCallsPerSecond: Math.round(rate(crossNode, from, to)),
      crossNodeP50Ms: latency(crossNode, 50),
      crossNodeP99Ms: latency(crossNode, 99),
    });
  });
});
