/**
 * `pnpm soak`: the soak of every mode under `funker dev` or on the local
 * Swarm, reconciled call by call; `--write` records the results in
 * docs/RELIABILITY.md.
 *
 *   pnpm soak                          every mode under funker dev, 20,000 calls each
 *   pnpm soak -- --mode reuse --calls 2000
 *   pnpm soak -- --target swarm --mode fresh --calls 20000 --rolling-update
 *                                      on the Swarm (docker/setup-docker.sh), with a rolling update midway
 *   pnpm soak -- --write               and rewrite the soak rows of docs/RELIABILITY.md
 */
import { parseArgs } from "node:util";
import type { HandlerMode } from "@funker/handler/contract";
import { heldUp } from "./reconcile.js";
import { defaultCli, runSoak } from "./soak.js";
import type { SoakReport } from "./soak.js";
import { writeSoakRows } from "./reliability-doc.js";
import { buildRecordImage, runSwarmSoak } from "./swarm.js";

const MODES: readonly HandlerMode[] = ["single-shot", "reuse", "fresh"];

// `pnpm soak -- --mode reuse` hands the `--` on: the options follow it.
const commandLine = process.argv[2] === "--" ? process.argv.slice(3) : process.argv.slice(2);
const { values } = parseArgs({
  args: commandLine,
  options: {
    mode: { type: "string", multiple: true },
    calls: { type: "string", default: "20000" },
    minutes: { type: "string", default: "60" },
    "in-flight": { type: "string", default: "8" },
    replicas: { type: "string", default: "4" },
    "kill-every": { type: "string", default: "300" },
    kills: { type: "string", default: "both" },
    target: { type: "string", default: "dev" },
    "rolling-update": { type: "boolean", default: false },
    write: { type: "boolean", default: false },
  },
});

const modes = (values.mode ?? MODES) as HandlerMode[];
for (const mode of modes) {
  if (!MODES.includes(mode)) throw new Error(`--mode ${mode}: one of ${MODES.join(", ")}`);
}

if (values.target !== "dev" && values.target !== "swarm") throw new Error(`--target ${values.target}: dev or swarm`);

/** The caller image and the functions' base image, built from the workspace for the Swarm target. */
async function swarmImages(): Promise<{ caller: string; handlerNode: string }> {
  const buildImagesScript = new URL("../../../docker/build-images.mjs", import.meta.url).href;
  const { buildSupportImages } = (await import(buildImagesScript)) as {
    buildSupportImages(options: { caller: string; handlerNode: string; labels: Record<string, string>; log: (line: string) => void }): Promise<{ caller: string; handlerNode: string }>;
  };
  return buildSupportImages({ caller: "funker-soak/caller:latest", handlerNode: "funker-soak/handler-node:latest", labels: {}, log: (line) => console.error(line) });
}

const images = values.target === "swarm" ? await swarmImages() : undefined;
const recordImage = "funker-soak/record:latest";
if (images !== undefined) await buildRecordImage({ tag: recordImage, baseImage: images.handlerNode, log: (line) => console.error(line) });
const reports: SoakReport[] = [];
for (const mode of modes) {
  console.error(`soak: ${mode} ${images === undefined ? "under funker dev" : "on the Swarm"}…`);
  const common = {
    mode,
    replicas: Number(values.replicas),
    inFlight: Number(values["in-flight"]),
    calls: Number(values.calls),
    durationMs: Number(values.minutes) * 60_000,
    killEveryMs: Number(values["kill-every"]),
    kills: values.kills as "both" | "mid-call" | "random",
    // On the Swarm a single-shot replica lives for one call, well under the age that spares a replica's start.
    minReplicaAgeMs: images !== undefined && mode === "single-shot" ? 0 : 500,
    maxWorkMs: 20,
    callTimeoutMs: 30_000,
  };
  const report =
    images === undefined
      ? await runSoak({ ...common, cli: defaultCli() })
      : await runSwarmSoak({
          ...common,
          rollingUpdate: values["rolling-update"],
          callerImage: images.caller,
          recordImage,
          stack: `soak-${process.pid}`,
          log: (line) => console.error(line),
        });
  reports.push(report);
  console.log(JSON.stringify(report));
}
const command = `pnpm soak -- ${commandLine.filter((argument) => argument !== "--write").join(" ")}`.trim();
if (values.write) writeSoakRows(reports, command);
process.exitCode = reports.every(heldUp) ? 0 : 1;
