import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { deployFunctions, parseConfig } from "../../packages/cli/src/internal.js";
import type { LoadFigures } from "../caller/load-run.js";
import { callerRun, docker, images, parseLoadFigures, removeServices, report, runId } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Each caller container calls for this long, and a new one starts while the
 * redeploy goes on, so calls are in flight for the whole update however long
 * the shared machine makes it.
 */
const ROUND_SECONDS = 10;
/**
 * Calls in flight per function: one fewer than its replicas, so that replicas
 * are busy when they are replaced while a single-shot call seldom waits for a
 * replacement, which on a loaded machine takes tens of seconds.
 */
const CALLS_IN_FLIGHT = 2;
const REPLICAS = 3;
/** Each call's time limit, retries included: above a single-shot replacement on a loaded machine, so that only a lost call fails. */
const CALL_TIMEOUT_MS = 60_000;

// One stack with a function of each mode, all from the add example's image,
// deployed with `funker deploy`, then deployed again with a changed variable
// while a caller container keeps calls in flight to each. Swarm's update
// monitor counts a replica that exits 0 as an early termination, which used
// to pause the single-shot update, and `funker deploy` used to return while
// the updates were still going.
describe("a rolling update of each mode under load", () => {
  const stack = `upd-${runId()}`;
  const names = { "single-shot": `${stack}-once`, reuse: `${stack}-kept`, fresh: `${stack}-fresh` } as const;
  const funkerYml = (version: string): string =>
    `version: 1
name: ${stack}
functions:
${Object.entries(names)
  .map(([mode, name]) => `  ${name}: { entry: examples/add, mode: ${mode}, replicas: ${REPLICAS}, timeout: 5s, environment: { ADD_VERSION: "${version}" } }`)
  .join("\n")}
`;
  const progress: string[] = [];
  const output = { write: (text: string) => progress.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${text}`) };
  const deploy = (version: string): ReturnType<typeof deployFunctions> =>
    deployFunctions(parseConfig(funkerYml(version), join(repository, "funker.yml")), { output, imageFor: () => images().add });
  const started = Date.now();

  afterAll(async () => {
    await removeServices(Object.values(names));
    report("rolling update", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  // Its own ceiling above the stage's 180 s: about a minute on an idle machine, three on a shared one.
  it("completes every update, returns only after it, and fails no call", { timeout: 300_000 }, async () => {
    expect(await deploy("1"), progress.join("")).toEqual({ ok: true, created: Object.values(names), updated: [] });

    let redeploying = true;
    let lastRoundEnded = 0;
    const loadRounds = Object.values(names).map(async (name): Promise<LoadFigures[]> => {
      const rounds: LoadFigures[] = [];
      do {
        const run = await callerRun("funker", ["funker-load", name, "x=1", "y=2", "--expect", "3", "--seconds", String(ROUND_SECONDS), "--concurrency", String(CALLS_IN_FLIGHT), "--timeout", String(CALL_TIMEOUT_MS), "--json"]);
        expect(run.code, run.stderr).toBe(0);
        rounds.push(parseLoadFigures(run.stdout));
        lastRoundEnded = Date.now();
      } while (redeploying);
      return rounds;
    });
    // The first caller containers start and make their first calls.
    await new Promise((resolve) => setTimeout(resolve, 3_000));

    const redeployStarted = Date.now();
    const again = await deploy("2").finally(() => {
      redeploying = false;
    });
    const redeployEnded = Date.now();
    expect(again, progress.join("")).toEqual({ ok: true, created: [], updated: Object.values(names) });
    // Read at once: a deploy that returned while Swarm was still replacing replicas finds "updating" here.
    for (const [mode, name] of Object.entries(names)) {
      const status = JSON.parse(await docker(["service", "inspect", "--format", "{{json .UpdateStatus}}", name])) as { State: string; Message: string };
      expect(status, `${mode}\n${progress.join("")}`).toMatchObject({ State: "completed", Message: "update completed" });
      const spec = await docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}", name]);
      expect(spec).toContain("ADD_VERSION=2");
    }

    const figures = await Promise.all(loadRounds);
    // The last round of calls ended after the redeploy: calls were in flight while Swarm replaced every replica.
    expect(lastRoundEnded).toBeGreaterThan(redeployEnded);
    report("rolling update, funker deploy", { seconds: (redeployEnded - redeployStarted) / 1000, progress: progress.join("") });
    const totals = Object.keys(names).map((mode, index) => {
      const rounds = figures[index] ?? [];
      const sum = (count: (load: LoadFigures) => number): number => rounds.reduce((total, load) => total + count(load), 0);
      const failures = rounds.flatMap((load) => Object.entries(load.failures).map(([code, count]) => `${code} ${count}: ${load.failureExamples[code] ?? ""}`));
      const calls = { rounds: rounds.length, calls: sum((load) => load.calls), ok: sum((load) => load.ok), wrong: sum((load) => load.wrong), failures };
      report(`rolling update, ${mode} x${REPLICAS}, ${CALLS_IN_FLIGHT} in flight`, calls);
      return { mode, calls };
    });
    for (const { mode, calls } of totals) {
      expect(calls.failures, mode).toEqual([]);
      expect(calls.wrong, mode).toBe(0);
      expect(calls.ok, mode).toBe(calls.calls);
      expect(calls.ok, mode).toBeGreaterThan(0);
    }
  });
});
