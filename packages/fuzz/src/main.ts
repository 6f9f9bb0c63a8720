/**
 * `pnpm fuzz`: mutated golden vectors and 2017 bodies against a live replica
 * of each mode; failing inputs are added to kept-cases.json, and `--write`
 * records the results in docs/RELIABILITY.md.
 *
 *   pnpm fuzz                                 every mode, 100,000 cases each
 *   pnpm fuzz -- --mode reuse --cases 5000 --seed 7
 *   pnpm fuzz -- --write                      and rewrite the fuzz rows of docs/RELIABILITY.md
 */
import { parseArgs } from "node:util";
import { heldUp, runFuzz } from "./fuzz.js";
import type { FuzzReport } from "./fuzz.js";
import { keepFailures } from "./kept-cases.js";
import { makeCase } from "./mutate.js";
import type { FuzzMode } from "./replica.js";
import { writeFuzzRows } from "./reliability-doc.js";

const MODES: readonly FuzzMode[] = ["reuse", "single-shot", "fresh"];

// `pnpm fuzz -- --mode reuse` hands the `--` on: the options follow it.
const commandLine = process.argv[2] === "--" ? process.argv.slice(3) : process.argv.slice(2);
const { values } = parseArgs({
  args: commandLine,
  options: {
    mode: { type: "string", multiple: true },
    cases: { type: "string", default: "100000" },
    seed: { type: "string" },
    minutes: { type: "string", default: "600" },
    parallel: { type: "string" },
    write: { type: "boolean", default: false },
  },
});

const modes = (values.mode ?? MODES) as FuzzMode[];
for (const mode of modes) {
  if (!MODES.includes(mode)) throw new Error(`--mode ${mode}: one of ${MODES.join(", ")}`);
}
// Without --seed, a new seed each run, printed so that a failing run can be made again.
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(seed)) throw new Error(`--seed ${values.seed}: a whole number`);
const found = new Date().toISOString().slice(0, 10);

const reports: FuzzReport[] = [];
for (const mode of modes) {
  console.error(`fuzz: ${mode}, seed ${seed}…`);
  const report = await runFuzz({
    mode,
    seed,
    cases: Number(values.cases),
    caseAt: (index) => makeCase(seed, index),
    durationMs: Number(values.minutes) * 60_000,
    ...(values.parallel === undefined ? {} : { parallel: Number(values.parallel) }),
    onBatch: (done) => {
      if (process.stderr.isTTY) process.stderr.write(`\r${mode}: ${done} cases`);
    },
  });
  reports.push(report);
  const kept = keepFailures(report.failures, mode, seed, found);
  console.log(JSON.stringify({ ...report, failures: report.failures.length }));
  for (const failure of report.failures.slice(0, 20)) console.error(`fuzz: ${mode} seed ${seed} case ${failure.index}: ${failure.label}: ${failure.problem}`);
  if (kept > 0) console.error(`fuzz: ${kept} failing case(s) added to packages/fuzz/kept-cases.json`);
}
const command = `pnpm fuzz -- ${commandLine.filter((argument) => argument !== "--write").join(" ")}`.trim();
if (values.write) writeFuzzRows(reports, command);
process.exitCode = reports.every(heldUp) ? 0 : 1;
