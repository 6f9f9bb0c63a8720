import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCodes } from "../../packages/client/src/index.js";
import { runId } from "../e2e/support.js";
import type { LedgerDeployment } from "./support.js";
import {
  CLIENT_LIMITS,
  deployForDisruption,
  isFull,
  keepFigures,
  loadThroughDisruption,
  node,
  rate,
  readLedger,
  reconcile,
  recovery,
  removeDeployment,
  script,
  span,
  STEADY_LOAD,
  waitForNode,
} from "./support.js";

/** Two ways a node fails: its link is cut (it goes silent), or it loses power (its engine and every container killed at once). */
const FAILURES = [
  { name: "link-cut", title: "its link cut (veth down)", fail: "cut", heal: "restore" },
  { name: "power-off", title: "its engine stopped together with its containers (all killed at once)", fail: "power-off", heal: "power-on" },
] as const;
/**
 * The modes a node failure is tested in. Single-shot replicas are replaced
 * after every call anyway; a `fresh` mode joins this list when the handler
 * has it, with nothing else to change.
 */
const MODES = ["reuse"] as const;
/** n1 holds the registry and the (first) manager; n3 is the node that fails, and the callers run on the two others. */
const FAILED_NODE = "n3";
const CALLER_NODES = ["n1", "n2"];

/**
 * The longest a failed call may take: a connection attempt to the failed
 * node given up (connect limit), then a call on a live connection that
 * hears nothing for the heartbeat limit, and 3 s for a loaded machine. The
 * callers' own deadline is 60 s, so a call that hangs is caught here.
 */
const LONGEST_FAILED_CALL_MS = CLIENT_LIMITS.connectTimeoutMs + CLIENT_LIMITS.heartbeatIntervalMs * CLIENT_LIMITS.heartbeatMisses + 3_000;
/** Calls sent later than this after the failure must not fail: by then the client has given up every connection to the failed node. */
const FAILURES_END_WITHIN_MS = CLIENT_LIMITS.heartbeatIntervalMs * CLIENT_LIMITS.heartbeatMisses;

const cases = FAILURES.flatMap((failure) => MODES.map((mode) => ({ ...failure, mode })));

describe.each(cases)("a node failing under load: $title, $mode mode", ({ name, title, fail, heal, mode }) => {
  const service = `${runId()}-${name}-${mode}`;
  let deployment: LedgerDeployment;
  let healed = false;

  beforeAll(async () => {
    deployment = await deployForDisruption(runId(), service, mode);
  });
  afterAll(async () => {
    if (!healed) await script([heal, FAILED_NODE]).then(() => waitForNode(FAILED_NODE));
    await removeDeployment(deployment);
  });

  it("ends calls to its replica as typed errors within the client's limits, loses no accepted call, and Swarm runs the replica elsewhere", async () => {
    const run = await loadThroughDisruption({
      runId: runId(),
      deployment,
      callerNodes: CALLER_NODES,
      nodeName: FAILED_NODE,
      afterMs: isFull() ? 90_000 : 40_000,
      disrupt: () => script([fail, FAILED_NODE]),
    });
    const healStarted = Date.now();
    await script([heal, FAILED_NODE]);
    const healedAt = await waitForNode(FAILED_NODE);
    healed = true;
    const { records, disruptedAt, movedAt, loadEnd } = run;

    // Every failure is typed, says whether the call may have run, and came
    // within the client's limits: nothing hung until the deadline.
    const failed = records.filter((record) => record.code !== undefined);
    for (const record of failed) {
      expect(errorCodes, record.id).toContain(record.code);
      expect(["deadline_exceeded", "cancelled", "wrong_answer"], record.id).not.toContain(record.code);
      expect(typeof record.mayHaveRun, record.id).toBe("boolean");
      expect(record.ended - record.sent, `${record.id} (${record.code})`).toBeLessThanOrEqual(LONGEST_FAILED_CALL_MS);
      expect(record.sent - disruptedAt, `${record.id} (${record.code}) was sent well after the failure`).toBeLessThan(FAILURES_END_WITHIN_MS);
    }
    // What each caller was told matches what ran.
    const reconciled = reconcile(records, readLedger(deployment.ledger));
    expect(reconciled.violations).toEqual([]);
    // Calls are answered again once Swarm has moved the replica: at the
    // offered rate, give or take what a shared machine takes away (the
    // figure below says how fast; speed is not asserted).
    const back = recovery(records, disruptedAt, { baselineMs: 5_000, end: loadEnd });
    expect(rate(records, movedAt, loadEnd), "answered calls/s after the replica moved").toBeGreaterThan(back.baseline / 2);

    const slowed = records.filter((record) => record.code === undefined && record.sent >= disruptedAt && record.ended - record.sent >= CLIENT_LIMITS.connectTimeoutMs);
    keepFigures(`failure-${name}-${mode}`, {
      kind: "failure",
      title: `Node failure: ${title}, ${mode} mode`,
      setting: `${STEADY_LOAD.replicas} replicas (one per node), callers on ${CALLER_NODES.join(" and ")}, each ${STEADY_LOAD.ratePerCaller} calls/s over ${STEADY_LOAD.concurrency} loops; ${node(FAILED_NODE).hostname} fails ${Math.round((disruptedAt - span(records).start) / 1000)} s into the load; the client's connect limit ${CLIENT_LIMITS.connectTimeoutMs} ms, heartbeat ${CLIENT_LIMITS.heartbeatIntervalMs} ms × ${CLIENT_LIMITS.heartbeatMisses}.`,
      calls: records.length,
      baselineCallsPerSecond: Math.round(back.baseline),
      lowestCallsPerSecond: Math.round(back.lowest),
      rescheduledAfterMs: movedAt - disruptedAt,
      recoveredAfterMs: back.recoveredAfterMs ?? "not within the load",
      answeredSlowerThanConnectLimit: slowed.length,
      lastSlowCallAfterMs: slowed.length === 0 ? 0 : Math.round(span(slowed).end - disruptedAt),
      failedMayHaveRun: [reconciled.failedMayHaveRun, reconciled.mayHaveRunAndRan],
      failedNotRun: reconciled.failedNotRun,
      longestFailedCallMs: Math.round(failed.reduce((longest, record) => Math.max(longest, record.ended - record.sent), 0)),
      failureCodes: Object.fromEntries([...new Set(failed.map((record) => record.code))].map((code) => [code, failed.filter((record) => record.code === code).length])),
      healedAfterMs: healedAt - healStarted,
    });
  });
});
