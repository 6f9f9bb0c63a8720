import { afterAll, describe, expect, it } from "vitest";
import { callerRun, parseLoadFigures, docker, images, removeServices, report, runId, TEST_LABEL, waitForReplicas } from "./support.js";

// Reuse-mode functions serve call after call in one process; the caller
// keeps its connections between calls (the handler offers keep-alive). With
// four calls in flight through one client, the client spreads them over the
// four replicas (it sends each call to the replica with the fewest in flight).
describe("reuse-mode functions", () => {
  const service = `${runId()}-reuse`;
  afterAll(() => removeServices([service]));

  it("serves four calls at a time from one caller container on every replica, every one right", async () => {
    await docker([
      "service", "create", "--detach", "--name", service, "--network", "funker", "--endpoint-mode", "dnsrr", "--replicas", "4",
      "--env", "FUNKER_MODE=reuse", "--env", "FUNKER_LOG=off", "--restart-delay", "1s", "--init", "--no-resolve-image",
      "--label", `${TEST_LABEL}=${runId()}`, images().add,
    ]);
    await waitForReplicas(service, 4);
    const run = await callerRun("funker", ["funker-load", service, "x=1", "y=2", "--seconds", "10", "--concurrency", "4", "--expect", "3", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report("reuse x4, 4 in flight, 10 s", figures);
    expect(figures.concurrency).toBe(4);
    expect(figures.ok).toBeGreaterThan(0);
    expect(figures.wrong).toBe(0);
    expect(figures.failures).toEqual({});
    // A reuse replica keeps its address for its whole life: four addresses answered, four replicas served.
    expect(figures.addressesAnswered).toBe(4);
  });
});
