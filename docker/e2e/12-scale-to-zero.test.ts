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
  afterAll(async () => {
    await dockerResult(["rm", "-f", scaler]);
    await removeServices([add, cold]);
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
});
