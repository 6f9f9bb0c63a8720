import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { docker, dockerResult, dockerRunOn, images, parseLoadFigures, removeServices, report, runId, TEST_LABEL, waitFor } from "./support.js";

// Scale to zero on the Swarm: functions with io.funker.scale.min 0, the
// autoscaler's image (funker/autoscaler, built by docker/build-images.mjs) in
// a container on the functions' network under a name of this run, and
// callers told that name with FUNKER_AUTOSCALER. The autoscaler manages only
// the services carrying this file's label.
describe("scale to zero", () => {
  const zeroLabel = "io.funker.test.zero";
  const scaler = `${runId()}-stz-scaler`;
  const add = `${runId()}-stz-add`;
  const cold = `${runId()}-stz-cold`;
  const slow = `${runId()}-stz-slow`;
  const slowImage = `funker-e2e/stz-slow:${runId()}`;
  const folder = mkdtempSync(join(tmpdir(), "stz-"));
  afterAll(async () => {
    await dockerResult(["rm", "-f", scaler]);
    await removeServices([add, cold, slow]);
    await dockerResult(["image", "rm", "-f", slowImage]);
    rmSync(folder, { recursive: true, force: true });
  });

  async function createFunction(name: string, image: string, scale: Record<string, string>, extra: readonly string[] = []): Promise<void> {
    const labels = { "io.funker.function": name, [TEST_LABEL]: runId(), [zeroLabel]: runId(), ...scale };
    await docker([
      "service", "create", "--detach", "--name", name, "--network", "funker", "--endpoint-mode", "dnsrr", "--replicas", "0",
      "--env", "FUNKER_STATUS_PORT=9998", "--env", "FUNKER_LOG=off", "--restart-delay", "1s", "--no-resolve-image", ...extra,
      ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]), image,
    ]);
  }

  async function replicasOf(name: string): Promise<number> {
    return Number((await docker(["service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", name])).trim());
  }

  async function startAutoscaler(): Promise<void> {
    const started = await dockerRunOn("funker", [
      "-d", "--name", scaler, "--label", `${TEST_LABEL}=${runId()}`, "-v", "/var/run/docker.sock:/var/run/docker.sock",
      "--env", `FUNKER_AUTOSCALE_LABELS=${zeroLabel}=${runId()}`, images().autoscaler,
    ]);
    expect(started.code, started.stderr).toBe(0);
  }

  /** `call` in a caller container that asks `autoscaler` for replicas. */
  function callThrough(name: string, autoscaler: string, timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
    return dockerRunOn("funker", [
      "--rm", "--label", `${TEST_LABEL}=${runId()}`, "--env", `FUNKER_AUTOSCALER=${autoscaler}`, images().caller,
      "call", name, "x=1", "y=2", "--timeout", String(timeoutMs),
    ]);
  }

  /** One call timed by the client inside the caller container (so without the container's own start): funker-load for under a second. */
  async function oneTimedCall(name: string, autoscaler: string): Promise<ReturnType<typeof parseLoadFigures>> {
    const run = await dockerRunOn("funker", [
      "--rm", "--label", `${TEST_LABEL}=${runId()}`, "--env", `FUNKER_AUTOSCALER=${autoscaler}`, images().caller,
      "funker-load", name, "x=1", "y=2", "--seconds", "0.1", "--concurrency", "1", "--timeout", "30000", "--expect", "3", "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    return parseLoadFigures(run.stdout);
  }

  /** The autoscaler's JSON lines about `service` so far. */
  async function scalerLines(service: string): Promise<Record<string, unknown>[]> {
    const { stdout } = await dockerResult(["logs", scaler]);
    return stdout
      .trim()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((line) => line["service"] === service);
  }

  it("a function at zero answers its first call within the deadline via the autoscaler, then goes back to zero once idle", async () => {
    await createFunction(add, images().add, { "io.funker.scale.min": "0", "io.funker.scale.max": "2", "io.funker.scale.idle-ms": "3000" });
    await startAutoscaler();
    expect(await replicasOf(add)).toBe(0);

    const first = await oneTimedCall(add, scaler);
    expect(first).toMatchObject({ calls: 1, ok: 1, wrong: 0, failures: {} });
    expect(await replicasOf(add)).toBeGreaterThanOrEqual(1);
    const warm = await oneTimedCall(add, scaler);
    expect(warm).toMatchObject({ calls: 1, ok: 1, wrong: 0, failures: {} });
    // The first call's time is the wake, one replica's start and the call; the second, a call to a running replica.
    report("scale to zero: first call to a function at zero, and a call once it runs", { firstCallMs: first.latencyMs?.max, warmCallMs: warm.latencyMs?.max });

    await waitFor("zero replicas after the idle period", async () => ((await replicasOf(add)) === 0 ? true : undefined), 60_000);
    const lines = await scalerLines(add);
    expect(lines.filter((line) => line["msg"] === "woke")).toEqual([expect.objectContaining({ function: add, from: 0, to: 1 })]);
    expect(lines.filter((line) => line["msg"] === "scaled" && line["to"] === 0)).toHaveLength(1);
  });

  it("with no autoscaler answering, a caller of a function at zero gets not_found within its deadline, saying so", async () => {
    await createFunction(cold, images().add, { "io.funker.scale.min": "0", "io.funker.scale.max": "2" });
    const call = await callThrough(cold, `${runId()}-stz-nobody`, 10_000);
    expect(call.code).toBe(1);
    expect(call.stderr).toContain(`error not_found: no function "${cold}" was found (neither tasks.${cold} nor ${cold} resolves): no replica runs, and no autoscaler answered at ${runId()}-stz-nobody:9997 to start one`);
    expect(await replicasOf(cold)).toBe(0);
  });

  it("an autoscaler restarted mid-load resumes from what it observes: one scale-up and one scale-down per step of the load", async () => {
    writeFileSync(join(folder, "Dockerfile"), `FROM ${images().handlerNode}\nCOPY handler.js /function/handler.js\n`);
    writeFileSync(join(folder, "handler.js"), `const { handler } = require("funker");\nhandler(() => new Promise((resolve) => setTimeout(() => resolve("slow"), 300)));\n`);
    await docker(["build", "--tag", slowImage, "--label", `${TEST_LABEL}=${runId()}`, folder]);
    await createFunction(slow, slowImage, { "io.funker.scale.min": "0", "io.funker.scale.max": "4", "io.funker.scale.warm": "1", "io.funker.scale.idle-ms": "4000" }, ["--env", "FUNKER_MODE=reuse", "--init"]);

    const loadStarted = Date.now();
    let loadRunning = true;
    const load = dockerRunOn("funker", [
      "--rm", "--label", `${TEST_LABEL}=${runId()}`, "--env", `FUNKER_AUTOSCALER=${scaler}`, images().caller,
      "funker-load", slow, "--seconds", "20", "--concurrency", "4", "--timeout", "30000", "--expect", '"slow"', "--json",
    ]).finally(() => {
      loadRunning = false;
    });
    await waitFor("more than one replica", async () => ((await replicasOf(slow)) > 1 ? true : undefined), 30_000);
    // The restart must fall inside the load for the test to mean anything.
    expect(loadRunning).toBe(true);
    const restart = await dockerResult(["restart", "--time", "2", scaler]);
    expect(restart.code, restart.stderr).toBe(0);
    expect(loadRunning).toBe(true);
    const restartedAfterMs = Date.now() - loadStarted;
    const run = await load;
    expect(run.code, run.stderr).toBe(0);
    const loadEnded = Date.now();
    const figures = parseLoadFigures(run.stdout);
    expect(figures.wrong).toBe(0);
    expect(figures.failures).toEqual({});
    await waitFor("zero replicas after the load", async () => ((await replicasOf(slow)) === 0 ? true : undefined), 60_000);

    // Log lines carry no time: the step a change belongs to is told by the replica counts around it.
    const changes = (await scalerLines(slow)).filter((line) => line["msg"] === "scaled" || line["msg"] === "woke");
    report("scale to zero: 4 callers, autoscaler restarted mid-load", { ...figures, restartedAfterMs, msToZeroAfterLoad: Date.now() - loadEnded, changes });
    const ups = changes.filter((line) => line["msg"] === "scaled" && Number(line["to"]) > Number(line["from"]));
    const downs = changes.filter((line) => Number(line["to"]) < Number(line["from"]));
    expect(changes.filter((line) => line["msg"] === "woke")).toHaveLength(1);
    // The load step: at most one scale-up after the wake; the step back to no load: one scale-down, to zero; and at
    // most one more scale-down, of an overshoot, while the load ran.
    expect(ups.length).toBeLessThanOrEqual(1);
    expect(downs.at(-1)).toMatchObject({ to: 0 });
    expect(downs.length).toBeLessThanOrEqual(2);
  }, 150_000);
});
