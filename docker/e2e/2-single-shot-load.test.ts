import { afterAll, describe, expect, it } from "vitest";
import { callerRun, parseLoadFigures, docker, images, removeServices, report, runId, TEST_LABEL, waitForReplicas } from "./support.js";

// Four single-shot replicas, each replaced by Swarm after every call (restart
// delay 0), under one caller that calls one call after the other for 30 s.
// The figures are printed, not asserted: the machine is shared and slow.
describe("four single-shot replicas under sequential load", () => {
  const service = `${runId()}-load`;
  afterAll(() => removeServices([service]));

  it("answers every call with the right value for 30 s", async () => {
    await docker([
      "service", "create", "--detach", "--name", service, "--network", "funker", "--endpoint-mode", "dnsrr",
      "--replicas", "4", "--restart-delay", "0s", "--init", "--no-resolve-image", "--label", `${TEST_LABEL}=${runId()}`, images().add,
    ]);
    await waitForReplicas(service, 4);
    const run = await callerRun("funker", ["funker-load", service, "x=1", "y=2", "--seconds", "30", "--expect", "3", "--timeout", "10000"]);
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report("single-shot x4, sequential, 30 s", figures);
    expect(figures.ok).toBeGreaterThan(0);
    expect(figures.wrong).toBe(0);
    // Every call answered: calls that lose the race for a replica are redelivered (the handler
    // accepts a call before running it), and a connection to a task that has just died gives up
    // after the client's connect time limit instead of holding the call until its deadline.
    expect(figures.failures, JSON.stringify(figures.failureExamples)).toEqual({});
    expect(figures.ok).toBe(figures.calls);
  });
});
