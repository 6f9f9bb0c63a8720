import { afterAll, describe, expect, it } from "vitest";
import { callerCommand, callerRun, createDocumentedService, documentedCommand, parseLoadFigures, removeServices, report, runId, images, waitForReplicas } from "./support.js";

/** The run's length: 30 s in the stage; FUNKER_E2E_LOAD_SECONDS=60 for the figure docs/deploy.md quotes. */
function loadSeconds(): number {
  const text = process.env["FUNKER_E2E_LOAD_SECONDS"] ?? "30";
  const seconds = Number(text);
  if (!(seconds > 0 && seconds <= 120)) throw new Error(`FUNKER_E2E_LOAD_SECONDS must be a number of seconds in (0, 120], not "${text}"`);
  return seconds;
}

// Four single-shot replicas, each replaced by Swarm after every call (restart
// delay 0, as funker deploy sets), under one caller that calls one call after
// the other: the two commands of docs/deploy.md's "Single-shot throughput,
// measured", as written there, with this run's names. The figures are
// printed, not asserted: the machine is shared and slow.
describe("four single-shot replicas under sequential load", () => {
  const service = `${runId()}-load`;
  afterAll(() => removeServices([service]));

  it("answers every call with the right value", async () => {
    const names = { add: service, "funker/add:latest": images().add };
    await createDocumentedService(documentedCommand("docs/deploy.md", "docker service create --name add --network funker --endpoint-mode dnsrr --replicas 4"), names);
    await waitForReplicas(service, 4);
    const seconds = loadSeconds();
    const load = callerCommand(documentedCommand("docs/deploy.md", "docker run --rm --net funker funker/caller funker-load"), names);
    expect(load).toContain("--seconds");
    const command = [...load.map((word, index) => (load[index - 1] === "--seconds" ? String(seconds) : word)), "--json"];
    const run = await callerRun("funker", command);
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report(`single-shot x4, sequential, ${seconds} s`, figures);
    expect(figures.concurrency).toBe(1);
    expect(figures.ok).toBeGreaterThan(0);
    expect(figures.wrong).toBe(0);
    // Every call answered: calls that lose the race for a replica are redelivered (the handler
    // accepts a call before running it), and a connection to a task that has just died gives up
    // after the client's connect time limit instead of holding the call until its deadline.
    expect(figures.failures, JSON.stringify(figures.failureExamples)).toEqual({});
    expect(figures.ok).toBe(figures.calls);
    expect(figures.latencyMs).not.toBeNull();
  });
});
