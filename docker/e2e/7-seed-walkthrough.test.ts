import { afterAll, describe, expect, it } from "vitest";
import { callerRun, docker, images, parseLoadFigures, removeServices, report, runId, TEST_LABEL, waitFor, waitForReplicas } from "./support.js";

// The 2017 walkthrough as it was written: a CommonJS handler.js that
// requires `funker`, a package.json whose start script runs it, a one-line
// Dockerfile (its base image changed to funker/handler-node; the stage
// builds it in the global setup), the walkthrough's own `docker service
// create` (virtual IP, default restart policy: 5 s between tasks), and a
// call from the caller image. The only addition to the command is the
// label that lets the stage clean up after an aborted run.
describe("the 2017 walkthrough, literally", () => {
  const service = `${runId()}-seed-add`;

  afterAll(async () => {
    await removeServices([service]);
  });

  it("serves the walkthrough's function from the caller image: 3", async () => {
    await docker(["service", "create", "--name", service, "--network", "funker", "--label", `${TEST_LABEL}=${runId()}`, images().seedAdd]);
    await waitForReplicas(service, 1);
    expect(await callerRun("funker", ["call", service, "x=1", "y=2"])).toMatchObject({ code: 0, stdout: "3\n" });
  });

  it("answers one caller's calls one after the other, each waiting out the 5 s restart delay instead of failing not_found", async () => {
    // The replica exits after each call, and Swarm starts the next one 5 s
    // later: meanwhile tasks.<name> has no address at all. A name that
    // resolved is a function restarting, so each call waits for it. (A
    // caller that never saw the name gets not_found after its 2 s grace: the
    // load starts once the replica the first test used is replaced.)
    await waitFor("the first task to complete and a second to run", async () => {
      const rows = (await docker(["service", "ps", "--format", "{{.DesiredState}}|{{.CurrentState}}", service])).trim().split("\n");
      return rows.some((row) => row.startsWith("Shutdown|Complete")) && rows.some((row) => row.startsWith("Running|Running")) ? true : undefined;
    });
    const run = await callerRun("funker", ["funker-load", service, "x=1", "y=2", "--expect", "3", "--seconds", "14", "--timeout", "20000", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report("seed walkthrough, default restart policy, one caller, 14 s", figures);
    expect(figures.failures, JSON.stringify(figures.failureExamples)).toEqual({});
    expect(figures.ok).toBeGreaterThanOrEqual(2);
    expect(figures.ok).toBe(figures.calls);
  });
});
