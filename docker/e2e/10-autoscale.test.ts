import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Autoscaler } from "../../packages/autoscaler/src/index.js";
import { callerRun, docker, dockerResult, dockerRunOn, images, parseLoadFigures, removeServices, report, runId, TEST_LABEL, waitFor } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));
// esbuild is the CLI's dependency; docker/ is not a workspace package of its own (as in docker/build-images.mjs).
const esbuild = createRequire(join(repository, "packages/cli/package.json"))("esbuild") as { build(options: Record<string, unknown>): Promise<unknown> };

// The autoscaler's loop against the real engine, run in the test's process
// over the Docker socket. It manages only this run's services (their test
// label), never another function on the same engine. Replicas' status ports
// are on the overlay network, out of the host's reach: they count as
// starting here, which these tests do not depend on.
describe("funker autoscale against Swarm", () => {
  const bad = `${runId()}-asc-bad`;
  const notNumber = `${runId()}-asc-nan`;
  const low = `${runId()}-asc-low`;
  afterAll(() => removeServices([bad, notNumber, low]));

  async function createFunction(name: string, replicas: number, scaleLabels: Record<string, string>): Promise<void> {
    const labels = Object.entries({ "io.funker.function": name, [TEST_LABEL]: runId(), ...scaleLabels }).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
    await docker(["service", "create", "--detach", "--name", name, "--network", "funker", "--replicas", String(replicas), "--no-resolve-image", ...labels, images().add]);
  }

  async function replicasOf(name: string): Promise<number> {
    return Number((await docker(["service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", name])).trim());
  }

  function autoscaler(lines: Record<string, unknown>[]): Autoscaler {
    return new Autoscaler({ labels: [`${TEST_LABEL}=${runId()}`], log: (line) => lines.push(line) });
  }

  it("logs bad scale labels once, clearly, and leaves the service alone", async () => {
    await createFunction(bad, 1, { "io.funker.scale.min": "5", "io.funker.scale.max": "2" });
    const lines: Record<string, unknown>[] = [];
    const scaler = autoscaler(lines);
    await scaler.tick();
    await scaler.tick();
    expect(lines.filter((line) => line["service"] === bad)).toEqual([
      {
        level: "error",
        msg: "bad scale labels; service left alone",
        service: bad,
        code: "bad_scale_label",
        problem: "io.funker.scale.max (2) is below io.funker.scale.min (5)",
      },
    ]);
    expect(await replicasOf(bad)).toBe(1);
  });

  it("logs a scale label that is not a number once, naming it, and leaves the service alone", async () => {
    await createFunction(notNumber, 1, { "io.funker.scale.min": "0", "io.funker.scale.max": "eight" });
    const lines: Record<string, unknown>[] = [];
    const scaler = autoscaler(lines);
    await scaler.tick();
    await scaler.tick();
    expect(lines.filter((line) => line["service"] === notNumber)).toEqual([
      {
        level: "error",
        msg: "bad scale labels; service left alone",
        service: notNumber,
        code: "bad_scale_label",
        problem: 'io.funker.scale.max must be a whole number from 1 to 100; got "eight"',
      },
    ]);
    expect(await replicasOf(notNumber)).toBe(1);
  });

  it("brings a function below its min up at once, with one log line, and decides nothing more while it starts", async () => {
    await createFunction(low, 1, { "io.funker.scale.min": "2", "io.funker.scale.max": "3", "io.funker.scale.idle-ms": "60000" });
    const lines: Record<string, unknown>[] = [];
    const scaler = autoscaler(lines);
    await scaler.tick();
    expect(await replicasOf(low)).toBe(2);
    await scaler.tick();
    await scaler.tick();
    expect(lines.filter((line) => line["service"] === low)).toEqual([
      expect.objectContaining({ level: "info", msg: "scaled", function: low, service: low, from: 1, to: 2, reason: "below min 2" }),
    ]);
    expect(await replicasOf(low)).toBe(2);
  });
});

// The issue's scenario: a slow reuse function (half a second a call,
// concurrency 1), min 1, max 8, warm 1; six callers in a caller container.
// The autoscaler runs in a container on the functions' network, where it
// reaches the replicas' status ports.
describe("funker autoscale under load", () => {
  const slow = `${runId()}-asc-slow`;
  const scaler = `${runId()}-asc-scaler`;
  const folder = mkdtempSync(join(tmpdir(), "asc-"));
  afterAll(async () => {
    await dockerResult(["rm", "-f", scaler]);
    await removeServices([slow]);
    await dockerResult(["image", "rm", "-f", `funker-e2e/asc-slow:${runId()}`, `funker-e2e/asc-scaler:${runId()}`]);
    rmSync(folder, { recursive: true, force: true });
  });

  it("rises to at least 7 replicas under 6 callers, every call right, then returns to 1 after the cool-down", async () => {
    writeFileSync(join(folder, "Dockerfile"), `FROM ${images().handlerNode}\nCOPY handler.js /function/handler.js\n`);
    writeFileSync(
      join(folder, "handler.js"),
      `const { handler } = require("funker");\nhandler(() => new Promise((resolve) => setTimeout(() => resolve("slow"), 500)));\n`,
    );
    await docker(["build", "--tag", `funker-e2e/asc-slow:${runId()}`, "--label", `${TEST_LABEL}=${runId()}`, folder]);
    writeFileSync(
      join(folder, "entry.ts"),
      `import { Autoscaler } from "${join(repository, "packages/autoscaler/src/index.ts")}";\n` +
        `const stop = new AbortController();\nprocess.once("SIGTERM", () => stop.abort());\n` +
        `await new Autoscaler({ labels: [${JSON.stringify(`${TEST_LABEL}=${runId()}`)}] }).run(stop.signal);\n`,
    );
    await esbuild.build({ entryPoints: [join(folder, "entry.ts")], bundle: true, platform: "node", format: "esm", target: "node20", outfile: join(folder, "autoscaler.mjs"), logLevel: "error" });
    // The engine may not see this machine's temporary folder: the bundle goes into an image of its own.
    writeFileSync(join(folder, "Dockerfile"), `FROM ${images().handlerNode}\nCOPY autoscaler.mjs /asc/autoscaler.mjs\nENTRYPOINT ["node", "/asc/autoscaler.mjs"]\n`);
    await docker(["build", "--tag", `funker-e2e/asc-scaler:${runId()}`, "--label", `${TEST_LABEL}=${runId()}`, folder]);

    const labels = { "io.funker.function": slow, [TEST_LABEL]: runId(), "io.funker.scale.min": "1", "io.funker.scale.max": "8", "io.funker.scale.warm": "1", "io.funker.scale.idle-ms": "5000" };
    await docker([
      "service", "create", "--detach", "--name", slow, "--network", "funker", "--endpoint-mode", "dnsrr", "--replicas", "1",
      "--env", "FUNKER_MODE=reuse", "--env", "FUNKER_STATUS_PORT=9998", "--env", "FUNKER_LOG=off", "--restart-delay", "1s", "--init", "--no-resolve-image",
      ...Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]), `funker-e2e/asc-slow:${runId()}`,
    ]);
    const started = await dockerRunOn("funker", [
      // root: the socket belongs to root, and the base image runs as "node".
      "-d", "--name", scaler, "--user", "root", "--label", `${TEST_LABEL}=${runId()}`, "-v", "/var/run/docker.sock:/var/run/docker.sock",
      `funker-e2e/asc-scaler:${runId()}`,
    ]);
    expect(started.code, started.stderr).toBe(0);

    const replicas = async (): Promise<number> => Number((await docker(["service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", slow])).trim());
    const loadStarted = Date.now();
    const load = callerRun("funker", ["funker-load", slow, "--seconds", "40", "--concurrency", "6", "--timeout", "30000", "--expect", '"slow"', "--json"]);
    const risen = await waitFor("at least 7 replicas", async () => ((await replicas()) >= 7 ? Date.now() - loadStarted : undefined), 120_000);
    const run = await load;
    expect(run.code, run.stderr).toBe(0);
    const figures = parseLoadFigures(run.stdout);
    report("autoscale: 6 callers on a slow reuse function", { ...figures, msToSevenReplicas: risen });
    expect(figures.wrong).toBe(0);
    expect(figures.failures).toEqual({});
    await waitFor("1 replica after the cool-down", async () => ((await replicas()) === 1 ? true : undefined), 120_000);
    const log = (await dockerResult(["logs", scaler])).stdout;
    report("autoscale decisions", { lines: log.trim().split("\n") });
  }, 400_000);
});
