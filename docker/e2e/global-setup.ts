import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { parseConfig, buildImages, buildEnvironment } from "../../packages/cli/src/internal.js";
import { buildSupportImages } from "../build-images.mjs";
import { docker, handlerNodeDockerfile, dockerResult, newRunId, removeAbandoned, removeLabelled, report, TEST_LABEL } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Checks the engine, removes what aborted runs left (never what a run still
 * going uses: a run's id names its process), and builds this run's
 * images under test-only tags (funker-e2e/<name>:<run id>, labelled
 * io.funker.test=<run id>). The teardown removes them, whatever happened.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const state = await dockerResult(["info", "--format", "{{.ServerVersion}} {{.Swarm.LocalNodeState}}"]);
  if (state.code !== 0 || !state.stdout.includes("active")) {
    throw new Error(`the Docker stage needs a running engine with an active Swarm (docker/setup-docker.sh): ${state.stdout}${state.stderr}`);
  }
  await removeAbandoned();
  const runId = newRunId(process.pid, randomBytes(2).toString("hex"));
  const labels = { [TEST_LABEL]: runId };
  const tag = (name: string): string => `funker-e2e/${name}:${runId}`;

  const support = await buildSupportImages({ caller: tag("caller"), handlerNode: tag("handler-node"), autoscaler: tag("autoscaler"), labels, log: () => {} });
  const config = parseConfig(
    `version: 1
name: ${runId}
functions:
  add: { entry: examples/add }
  markdown: { entry: examples/markdown }
`,
    join(repository, "funker.yml"),
  );
  const built = await buildImages(config, { output: { write: () => true }, labels, imageFor: (spec) => tag(spec.name) });
  if (!built.ok) throw new Error(built.message);
  // examples/add-js/Dockerfile and the 2017 walkthrough's as written, FROM this run's handler-node image.
  for (const [name, folder] of [
    ["add-js", "examples/add-js"],
    ["seed-add", "docker/e2e/fixtures/seed-add"],
  ] as const) {
    await docker(["build", "--tag", tag(name), "--label", `${TEST_LABEL}=${runId}`, "--file", "-", join(repository, folder)], {
      input: handlerNodeDockerfile(repository, folder, support.handlerNode),
      env: await buildEnvironment(),
    });
  }

  const sizes = await docker(["image", "ls", "--filter", `label=${TEST_LABEL}=${runId}`, "--format", "{{.Repository}} {{.Size}}"]);
  report("images", Object.fromEntries(sizes.trim().split("\n").map((line) => line.split(" ") as [string, string])));
  report("build", { seconds: Math.round((Date.now() - started) / 100) / 10 });

  project.provide("runId", runId);
  project.provide("images", {
    caller: support.caller,
    handlerNode: support.handlerNode,
    autoscaler: tag("autoscaler"),
    add: tag("add"),
    markdown: tag("markdown"),
    addJs: tag("add-js"),
    seedAdd: tag("seed-add"),
  });

  return async () => {
    await removeLabelled(runId);
    process.stdout.write(`[docker e2e] stage time: ${Math.round((Date.now() - started) / 1000)} s (images built, tests run, everything removed)\n`);
  };
}
