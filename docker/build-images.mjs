#!/usr/bin/env node
// Builds Funker's support images from the workspace, offline:
//   funker/caller        the client in a container: `call`, a REPL, `funker-load`
//   funker/handler-node  the base for one-file JavaScript functions
//   funker/autoscaler    the autoscaler service `funker deploy` adds with `autoscale: true`
// Each is bundled with esbuild on the host (workspace packages from their
// src/, through the @funker/source condition), then built FROM
// node:20-bookworm-slim with a Dockerfile that only COPYs.
//
//   node docker/build-images.mjs [--caller <tag>] [--handler-node <tag>] [--autoscaler <tag>]
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repository = dirname(here);
// esbuild is the CLI's dependency; docker/ is not a workspace package of its own.
const esbuild = createRequire(join(repository, "packages/cli/package.json"))("esbuild");
const workspaceModules = join(repository, "packages/cli/node_modules");

export const DEFAULT_CALLER_IMAGE = "funker/caller";
export const DEFAULT_HANDLER_NODE_IMAGE = "funker/handler-node";
export const DEFAULT_AUTOSCALER_IMAGE = "funker/autoscaler";

async function bundle(entry, outfile, { shebang = false } = {}) {
  await esbuild.build({
    absWorkingDir: repository,
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    conditions: ["@funker/source"],
    nodePaths: [workspaceModules],
    legalComments: "eof",
    logLevel: "warning",
    ...(shebang ? { banner: { js: "#!/usr/bin/env node" } } : {}),
  });
}

function dockerBuild(tag, context, labels, log) {
  const env = { ...process.env };
  if (env.DOCKER_BUILDKIT === undefined && spawnSync("docker", ["buildx", "version"], { stdio: "ignore" }).status !== 0) env.DOCKER_BUILDKIT = "0";
  const labelArgs = Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
  const result = spawnSync("docker", ["build", "--tag", tag, ...labelArgs, context], { env, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`docker build ${tag} failed:\n${result.stdout}\n${result.stderr}`);
  log(`built ${tag}`);
}

/**
 * Bundles the caller image's tools into `folder` (created if missing):
 * `call.mjs` and `load.mjs` (`funker-load`), executable, and `repl.mjs`.
 * Their tests run these same bundles.
 */
export async function bundleCallerTools(folder) {
  mkdirSync(folder, { recursive: true });
  for (const name of ["call", "load"]) {
    await bundle(join(here, `caller/${name}.ts`), join(folder, `${name}.mjs`), { shebang: true });
    chmodSync(join(folder, `${name}.mjs`), 0o755);
  }
  await bundle(join(here, "caller/repl.ts"), join(folder, "repl.mjs"));
}

/**
 * Builds the caller and handler-node images, and the autoscaler's when
 * `autoscaler` names its tag; returns their tags. `labels` are added to each
 * (the end-to-end tests mark theirs to remove them afterwards).
 */
export async function buildSupportImages({
  caller = DEFAULT_CALLER_IMAGE,
  handlerNode = DEFAULT_HANDLER_NODE_IMAGE,
  autoscaler = undefined,
  labels = {},
  log = (line) => process.stderr.write(`${line}\n`),
} = {}) {
  const work = mkdtempSync(join(tmpdir(), "funker-images-"));
  try {
    const callerContext = join(work, "caller");
    await bundleCallerTools(callerContext);
    copyFileSync(join(here, "caller/Dockerfile"), join(callerContext, "Dockerfile"));
    dockerBuild(caller, callerContext, labels, log);

    const handlerContext = join(work, "handler-node");
    const moduleFolder = join(handlerContext, "node_modules/@funker/handler");
    mkdirSync(moduleFolder, { recursive: true });
    await bundle(join(here, "handler-node/entry.ts"), join(moduleFolder, "index.js"));
    writeFileSync(
      join(moduleFolder, "package.json"),
      `${JSON.stringify({ name: "@funker/handler", type: "module", exports: "./index.js" }, null, 2)}\n`,
    );
    // The 2017 library's name: `var funker = require('funker')` gives the handler (Node's require of an ES module).
    const legacyFolder = join(handlerContext, "node_modules/funker");
    mkdirSync(legacyFolder, { recursive: true });
    writeFileSync(join(legacyFolder, "package.json"), `${JSON.stringify({ name: "funker", main: "index.js" }, null, 2)}\n`);
    writeFileSync(join(legacyFolder, "index.js"), 'module.exports = require("@funker/handler");\n');
    for (const file of ["Dockerfile", "start.mjs", "install-dependencies.mjs"]) copyFileSync(join(here, `handler-node/${file}`), join(handlerContext, file));
    dockerBuild(handlerNode, handlerContext, labels, log);

    if (autoscaler !== undefined) {
      const autoscalerContext = join(work, "autoscaler");
      await bundle(join(here, "autoscaler/entry.ts"), join(autoscalerContext, "autoscaler.mjs"));
      copyFileSync(join(here, "autoscaler/Dockerfile"), join(autoscalerContext, "Dockerfile"));
      dockerBuild(autoscaler, autoscalerContext, labels, log);
    }
    return { caller, handlerNode, ...(autoscaler === undefined ? {} : { autoscaler }) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argument = (name) => {
    const index = process.argv.indexOf(name);
    return index < 0 ? undefined : process.argv[index + 1];
  };
  await buildSupportImages({
    caller: argument("--caller") ?? DEFAULT_CALLER_IMAGE,
    handlerNode: argument("--handler-node") ?? DEFAULT_HANDLER_NODE_IMAGE,
    autoscaler: argument("--autoscaler") ?? DEFAULT_AUTOSCALER_IMAGE,
  });
}
