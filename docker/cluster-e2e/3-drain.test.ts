import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker, runId, waitFor } from "../e2e/support.js";
import type { LedgerDeployment } from "./support.js";
import {
  cluster,
  deployForDisruption,
  isFull,
  keepFigures,
  loadThroughDisruption,
  node,
  isOnePerNode,
  placement,
  readLedger,
  reconcile,
  recovery,
  removeDeployment,
  STEADY_LOAD,
  waitForNode,
} from "./support.js";

const DRAINED_NODE = "n3";

// `docker node update --availability drain`: Swarm stops the node's tasks
// (SIGTERM: a reuse-mode replica finishes the calls it accepted and refuses
// new ones, which the client delivers elsewhere) and starts them on the
// other nodes. Plain containers are not tasks and stay, so a caller runs on
// the drained node too.
describe("draining a node under load, reuse mode", () => {
  const service = `${runId()}-drain`;
  const hostname = (): string => node(DRAINED_NODE).hostname;
  let deployment: LedgerDeployment;

  beforeAll(async () => {
    deployment = await deployForDisruption(runId(), service, "reuse");
  });
  afterAll(async () => {
    await docker(["node", "update", "--availability", "active", hostname()]);
    await waitForNode(DRAINED_NODE, "active");
    await removeDeployment(deployment);
  });

  it("moves the drained node's replica to the other nodes, and every call is answered and run exactly once", async () => {
    const run = await loadThroughDisruption({
      runId: runId(),
      deployment,
      callerNodes: cluster().nodes.map((each) => each.name),
      nodeName: DRAINED_NODE,
      afterMs: isFull() ? 60_000 : 20_000,
      disrupt: () => docker(["node", "update", "--availability", "drain", hostname()]),
    });
    const { records, disruptedAt, movedAt, loadEnd } = run;

    const failed = records.filter((record) => record.code !== undefined);
    expect(failed.slice(0, 5), `${failed.length} of ${records.length} calls failed`).toEqual([]);
    const reconciled = reconcile(records, readLedger(deployment.ledger));
    expect(reconciled.violations).toEqual([]);
    expect(reconciled.answered).toBe(records.length);
    const after = await placement(service);
    expect(after[hostname()], "tasks left on the drained node").toBeUndefined();

    const back = recovery(records, disruptedAt, { baselineMs: 5_000, end: loadEnd });
    keepFigures("drain", {
      kind: "drain",
      title: "Drain: `docker node update --availability drain` under load, reuse mode",
      setting: `${STEADY_LOAD.replicas} replicas (one per node), a caller on each node, each ${STEADY_LOAD.ratePerCaller} calls/s over ${STEADY_LOAD.concurrency} loops; ${hostname()} drained.`,
      calls: records.length,
      failed: failed.length,
      baselineCallsPerSecond: Math.round(back.baseline),
      movedAfterMs: movedAt - disruptedAt,
      recoveredAfterMs: back.recoveredAfterMs ?? "not within the load",
    });
  });

  it("does not move replicas back when the node is active again; `docker service update --force` spreads them over the three nodes", async () => {
    await docker(["node", "update", "--availability", "active", hostname()]);
    await waitForNode(DRAINED_NODE, "active");
    expect((await placement(service))[hostname()]).toBeUndefined();
    await docker(["service", "update", "--force", "--detach", service]);
    await waitFor("one replica per node", async () => (isOnePerNode(await placement(service)) ? true : undefined), 120_000);
  });
});
