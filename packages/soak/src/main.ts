/**
 * `pnpm soak`: the soak of every mode under `funker dev`, reconciled call by
 * call; `--write` records the results in docs/RELIABILITY.md.
 *
 *   pnpm soak                          every mode, 20,000 calls each
 *   pnpm soak -- --mode reuse --calls 2000
 *   pnpm soak -- --write               and rewrite the soak rows of docs/RELIABILITY.md
 */
import { parseArgs } from "node:util";
import type { HandlerMode } from "@funker/handler/contract";
import { heldUp } from "./reconcile.js";
import { defaultCli, runSoak } from "./soak.js";
import type { SoakReport } from "./soak.js";
import { writeSoakRows } from "./reliability-doc.js";

const MODES: readonly HandlerMode[] = ["single-shot", "reuse", "fresh"];

const { values } = parseArgs({
  options: {
    mode: { type: "string", multiple: true },
    calls: { type: "string", default: "20000" },
    minutes: { type: "string", default: "60" },
    "in-flight": { type: "string", default: "8" },
    replicas: { type: "string", default: "4" },
    "kill-every": { type: "string", default: "300" },
    kills: { type: "string", default: "both" },
    write: { type: "boolean", default: false },
  },
});

const modes = (values.mode ?? MODES) as HandlerMode[];
for (const mode of modes) {
  if (!MODES.includes(mode)) throw new Error(`--mode ${mode}: one of ${MODES.join(", ")}`);
}

const reports: SoakReport[] = [];
for (const mode of modes) {
  console.error(`soak: ${mode} under funker dev…`);
  const report = await runSoak({
    mode,
    replicas: Number(values.replicas),
    inFlight: Number(values["in-flight"]),
    calls: Number(values.calls),
    durationMs: Number(values.minutes) * 60_000,
    killEveryMs: Number(values["kill-every"]),
    kills: values.kills as "both" | "mid-call" | "random",
    minReplicaAgeMs: 500,
    maxWorkMs: 20,
    callTimeoutMs: 30_000,
    cli: defaultCli(),
  });
  reports.push(report);
  console.log(JSON.stringify(report));
}
const command = `pnpm soak -- ${process.argv.slice(2).filter((argument) => argument !== "--write").join(" ")}`.trim();
if (values.write) writeSoakRows(reports, command);
process.exitCode = reports.every(heldUp) ? 0 : 1;
