import { afterAll, describe, expect, it } from "vitest";
import { callerRun, parseLoadFigures, docker, images, removeServices, report, runId, TEST_LABEL, waitForReplicas } from "./support.js";

// A reuse-mode function serves call after call in one process; the caller
// keeps its connection between calls (the handler offers keep-alive).
describe("a reuse-mode function", () => {
  const service = `${runId()}-reuse`;
  afterAll(() => removeServices([service]));

  it("serves sequential calls from one caller container, every one right", async () => {
    await docker([
      "service", "create", "--detach", "--name", service, "--network", "funker", "--endpoint-mode", "dnsrr",
      "--env", "FUNKER_MODE=reuse", "--env", "FUNKER_LOG=off", "--restart-delay", "1s", "--init", "--no-resolve-image",
      "--label", `${TEST_LABEL}=${runId()}`, images().add,
    ]);
    await waitForReplicas(service, 1);
    const run = await callerRun("funker", ["funker-load", service, "x=1", "y=2", "--seconds", "10", "--expect", "3"]);
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report("reuse x1, sequential, 10 s", figures);
    expect(figures.ok).toBeGreaterThan(0);
    expect(figures.wrong).toBe(0);
    expect(figures.failures).toEqual({});
  });
});
