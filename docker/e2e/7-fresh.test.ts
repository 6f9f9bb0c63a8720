import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildEnvironment, deployFunctions, parseConfig } from "../../packages/cli/src/internal.js";
import type { LoadFigures } from "../caller/load-run.js";
import { callerRun, docker, images, parseLoadFigures, removeServices, report, runId, TEST_LABEL, waitFor, waitForReplicas } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));
const fixture = join(repository, "docker/e2e/fixtures/token");

/**
 * The load's length in seconds: short in the stage; FUNKER_E2E_FRESH_SECONDS=60
 * for the run whose figures bench/results/ keeps.
 */
function loadSeconds(): number {
  const text = process.env["FUNKER_E2E_FRESH_SECONDS"] ?? "12";
  const seconds = Number(text);
  if (!(seconds > 0 && seconds <= 300)) throw new Error(`FUNKER_E2E_FRESH_SECONDS must be a number of seconds in (0, 300], not "${text}"`);
  return seconds;
}

/** Calls in flight from the one caller container: one per replica. */
const CALLERS = 4;
const REPLICAS = 4;

/** The CPU time the service's containers have used, in ms, from their cgroups (v1 as on this engine, v2 as on Debian 12); undefined where neither is readable. */
async function serviceCpuMs(service: string): Promise<number | undefined> {
  const ids = (await docker(["ps", "-q", "--no-trunc", "--filter", `label=com.docker.swarm.service.name=${service}`])).trim().split("\n").filter((id) => id !== "");
  let total = 0;
  for (const id of ids) {
    const used = containerCpuMs(id);
    if (used === undefined) return undefined;
    total += used;
  }
  return ids.length === 0 ? undefined : total;
}

function containerCpuMs(id: string): number | undefined {
  try {
    return Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, "utf8")) / 1e6;
  } catch {
    // Not cgroup v1 with the cgroupfs driver: try v2 under systemd.
  }
  try {
    const stat = readFileSync(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, "utf8");
    const usage = /^usage_usec (\d+)$/m.exec(stat)?.[1];
    return usage === undefined ? undefined : Number(usage) / 1e3;
  } catch {
    return undefined;
  }
}

/**
 * What the service's containers have printed, read container by container
 * (`docker service logs` on this engine at times never returns while a
 * task is busy; every task of a one-node Swarm runs here).
 */
async function serviceLogs(service: string): Promise<string> {
  const ids = (await docker(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`])).trim().split("\n").filter((id) => id !== "");
  const logs: string[] = [];
  for (const id of ids) logs.push(await docker(["logs", id]));
  return logs.join("\n");
}

async function load(service: string, seconds: number, concurrency: number): Promise<LoadFigures> {
  const run = await callerRun("funker", ["funker-load", service, "--seconds", String(seconds), "--concurrency", String(concurrency), "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return parseLoadFigures(run.stdout);
}

// A test-only function (fixtures/token: a token made once per process) deployed
// twice with `funker deploy`, as fresh and as single-shot, four replicas each,
// loaded from one caller container. Correctness is asserted; speed is printed.
describe("fresh functions on a real Swarm", () => {
  const fresh = `${runId()}-fresh`;
  const once = `${runId()}-once`;
  const image = `funker-e2e/token:${runId()}`;
  const started = Date.now();

  beforeAll(async () => {
    const dockerfile = readFileSync(join(fixture, "Dockerfile"), "utf8").replace("funker/handler-node", images().handlerNode);
    await docker(["build", "--tag", image, "--label", `${TEST_LABEL}=${runId()}`, "--file", "-", fixture], { input: dockerfile, env: await buildEnvironment() });
    const config = parseConfig(
      `version: 1
name: ${runId()}
functions:
  ${fresh}: { entry: docker/e2e/fixtures/token/handler.js, dockerfile: docker/e2e/fixtures/token/Dockerfile, replicas: ${REPLICAS}, mode: fresh, timeout: 5s }
  ${once}: { entry: docker/e2e/fixtures/token/handler.js, dockerfile: docker/e2e/fixtures/token/Dockerfile, replicas: ${REPLICAS}, timeout: 5s }
`,
      join(repository, "funker.yml"),
    );
    const progress: string[] = [];
    const outcome = await deployFunctions(config, { output: { write: (text: string) => progress.push(text) }, imageFor: () => image });
    expect(outcome, progress.join("")).toMatchObject({ ok: true });
    await waitForReplicas(fresh, REPLICAS);
    await waitForReplicas(once, REPLICAS);
  });

  afterAll(async () => {
    await removeServices([fresh, once]);
    report("fresh", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  it("serves every call in a process that served no other, with no failed call, far faster than single-shot", async () => {
    const seconds = loadSeconds();
    // One call at a time: what one call costs the replica's containers, its process start included.
    const cpuBefore = await serviceCpuMs(fresh);
    const alone = await load(fresh, Math.max(4, Math.round(seconds / 2)), 1);
    const cpuAlone = await serviceCpuMs(fresh);
    const loaded = await load(fresh, seconds, CALLERS);
    const cpuLoaded = await serviceCpuMs(fresh);
    const singleShot = await load(once, seconds, CALLERS);

    for (const figures of [alone, loaded]) {
      expect(figures.failures, JSON.stringify(figures.failureExamples)).toEqual({});
      expect(figures.ok).toBe(figures.calls);
      expect(figures.ok).toBeGreaterThan(0);
    }
    // Every call printed its process's token: no token twice, and as many as calls answered.
    const logs = await serviceLogs(fresh);
    const tokens = logs.split("\n").flatMap((line) => /^token ([0-9a-f]{24})$/.exec(line.trim())?.slice(1) ?? []);
    expect(tokens.length).toBeGreaterThanOrEqual(alone.ok + loaded.ok);
    expect(new Set(tokens).size).toBe(tokens.length);

    const cores = Number((await docker(["info", "--format", "{{.NCPU}}"])).trim());
    const cpuPerCallMs = cpuBefore === undefined || cpuAlone === undefined ? undefined : (cpuAlone - cpuBefore) / alone.ok;
    const ceiling = cpuPerCallMs === undefined ? undefined : (cores * 1_000) / cpuPerCallMs;
    report(`fresh x${REPLICAS}, ${CALLERS} in flight, ${seconds} s, beside single-shot`, {
      fresh: { callsPerSecond: loaded.callsPerSecond, latencyMs: loaded.latencyMs, calls: loaded.calls, failedAttempts: loaded.failedAttempts },
      singleShot: { callsPerSecond: singleShot.callsPerSecond, latencyMs: singleShot.latencyMs, calls: singleShot.calls, failures: singleShot.failures },
      freshOverSingleShot: singleShot.callsPerSecond > 0 ? Number((loaded.callsPerSecond / singleShot.callsPerSecond).toFixed(1)) : null,
      cpuPerFreshCallMs: cpuPerCallMs === undefined ? null : Number(cpuPerCallMs.toFixed(1)),
      cpuPerFreshCallUnderLoadMs: cpuAlone === undefined || cpuLoaded === undefined ? null : Number(((cpuLoaded - cpuAlone) / loaded.ok).toFixed(1)),
      // What the fresh containers got of the machine under load, in CPU ms per second: the rest went to other work.
      freshCpuMsPerSecond: cpuAlone === undefined || cpuLoaded === undefined ? null : Math.round((cpuLoaded - cpuAlone) / loaded.seconds),
      cores,
      cpuCeilingCallsPerSecond: ceiling === undefined ? null : Number(ceiling.toFixed(1)),
      freshOverCeiling: ceiling === undefined ? null : Number((loaded.callsPerSecond / ceiling).toFixed(2)),
      tokens: tokens.length,
      distinctTokens: new Set(tokens).size,
    });
  });

  it("stops a call past its time limit and answers a process that died, and the replicas stay up", async () => {
    const spun = await callerRun("funker", ["call", fresh, "spin=true"]);
    expect(spun.code).toBe(1);
    expect(spun.stderr).toMatch(/^error deadline_exceeded: the call passed its deadline \(timeout of 5000 ms\); the process running it was stopped/m);
    const crashed = await callerRun("funker", ["call", fresh, "exit=true"]);
    expect(crashed.code).toBe(1);
    expect(crashed.stderr).toMatch(/^error handler_crashed: the process serving the call exited with code 3 before it replied/m);
    expect((await callerRun("funker", ["call", fresh])).stdout).toMatch(/^"[0-9a-f]{24}"\n$/);
    // No task of the service ended: its supervisors outlived every process they started.
    const tasks = (await docker(["service", "ps", "--format", "{{.DesiredState}} {{.CurrentState}}", fresh])).trim().split("\n");
    expect(tasks.filter((task) => task.startsWith("Running Running"))).toHaveLength(REPLICAS);
    expect(tasks).toHaveLength(REPLICAS);
  });

  it("finishes a call in flight when the service is scaled down to none (SIGTERM)", async () => {
    const inFlight = callerRun("funker", ["call", fresh, "sleep=4000"]);
    await waitFor("the call to reach a process", async () => (/^sleeping /m.test(await serviceLogs(fresh)) ? true : undefined), 30_000);
    await docker(["service", "scale", "--detach", `${fresh}=0`]);
    const answered = await inFlight;
    expect(answered.stderr).toBe("");
    expect(answered).toMatchObject({ code: 0, stdout: expect.stringMatching(/^"[0-9a-f]{24}"\n$/) as unknown });
  });
});
