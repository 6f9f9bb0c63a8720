/**
 * `pnpm bench`: runs the scenarios, prints the table and writes
 * bench/results/latest.{json,md} (a quick run or a chosen scenario writes
 * bench/results/partial.{json,md} instead, so the kept results stay whole).
 *
 *   --quick               a smoke run of every scenario, in well under a minute
 *   --scenario <name>     only this scenario (repeat, or separate names by commas)
 *   --rounds <n>          pairs of rounds per scenario
 *   --profile             write CPU profiles of the servers and callers and summarise them
 */
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { killAll, prepareFunkerAdd, repositoryRoot } from "./processes.js";
import { markdownReport, markdownTable } from "./report.js";
import type { Machine } from "./report.js";
import { peerScenarios } from "./peers.js";
import { scenarios as baselineScenarios } from "./scenarios.js";
import type { Row, Scenario, Settings } from "./scenarios.js";
import { summarizeProfile } from "./summarize-profile.js";

/** A scenario that has not finished in this time (or its own limit) is stopped and reported as failed: the run always ends. */
const SCENARIO_TIMEOUT_MS = 150_000;

/** The raw limits, the Functions Framework and the local runtime first, then the peers (src/peers.ts). */
const scenarios: readonly Scenario[] = [...baselineScenarios, ...peerScenarios];

async function main(): Promise<number> {
  const { values } = parseArgs({
    // `pnpm bench -- --quick` may pass the `--` through; it separates nothing here.
    args: process.argv.slice(2).filter((argument) => argument !== "--"),
    options: {
      quick: { type: "boolean", default: process.env["BENCH_QUICK"] === "1" },
      scenario: { type: "string", multiple: true },
      rounds: { type: "string" },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help === true) {
    console.log(`usage: pnpm bench [-- --quick] [--scenario <name>] [--rounds <n>] [--profile]\nscenarios: ${scenarios.map((scenario) => scenario.name).join(", ")}`);
    return 0;
  }
  const quick = values.quick === true;
  const chosen = (values.scenario ?? []).flatMap((names) => names.split(",")).filter((name) => name !== "");
  const unknown = chosen.filter((name) => !scenarios.some((scenario) => scenario.name === name));
  if (unknown.length > 0) {
    console.error(`unknown scenario ${unknown.join(", ")}; known: ${scenarios.map((scenario) => scenario.name).join(", ")}`);
    return 2;
  }
  const profileDirectory = values.profile === true ? await mkdtemp(join(tmpdir(), "funker-bench-profile-")) : undefined;
  const settings: Settings = {
    quick,
    rounds: values.rounds !== undefined ? Number(values.rounds) : quick ? 2 : 7,
    roundMs: quick ? 300 : 2_000,
    warmupMs: quick ? 300 : 2_000,
    warmupCalls: quick ? 0 : 10_000,
    cyclesPerRound: quick ? 2 : 5,
    profileArgs: (role) => (profileDirectory === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDirectory}`, `--cpu-prof-name=${role}-${Date.now()}-${process.pid}.cpuprofile`]),
  };
  const selected = chosen.length === 0 ? scenarios : scenarios.filter((scenario) => chosen.includes(scenario.name));

  await prepareFunkerAdd();
  const loadBefore = loadavg()[0] ?? 0;
  const startedAt = Date.now();
  const rows: Row[] = [];
  const notes: string[] = [];
  let failures = 0;
  for (const scenario of selected) {
    process.stderr.write(`bench: ${scenario.name}: ${scenario.title} …\n`);
    const scenarioStartedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = scenario.timeoutMs?.(settings) ?? SCENARIO_TIMEOUT_MS;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      });
      const result = await Promise.race([scenario.run(settings), timeout]);
      rows.push(...result.rows);
      notes.push(...result.notes.map((note) => `${scenario.name}: ${note}`));
      process.stderr.write(`${markdownTable(result.rows)}\n(${((Date.now() - scenarioStartedAt) / 1000).toFixed(1)} s)\n\n`);
    } catch (error) {
      failures += 1;
      killAll();
      const message = error instanceof Error ? error.message : String(error);
      notes.push(`${scenario.name}: FAILED: ${message}`);
      process.stderr.write(`bench: ${scenario.name} failed: ${message}\n`);
    } finally {
      clearTimeout(timer);
    }
  }

  const firstCpu = cpus()[0];
  const machine: Machine = {
    cpuModel: firstCpu?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    platform: `${platform()} ${release()}`,
    date: new Date(startedAt).toISOString(),
    loadBefore,
    loadAfter: loadavg()[0] ?? 0,
  };
  const whole = chosen.length === 0 && !quick && values.rounds === undefined;
  const base = join(repositoryRoot, "bench", "results", whole ? "latest" : "partial");
  await mkdir(join(repositoryRoot, "bench", "results"), { recursive: true });
  await writeFile(`${base}.json`, `${JSON.stringify({ machine, settings: { ...settings, profileArgs: undefined }, durationMs: Date.now() - startedAt, rows, notes }, null, 2)}\n`);
  const markdown = markdownReport(rows, machine, notes, settings);
  await writeFile(`${base}.md`, markdown);
  console.log(markdown);
  console.log(`written: ${base}.json, ${base}.md (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`);

  if (profileDirectory !== undefined) {
    for (const file of (await readdir(profileDirectory)).sort()) {
      console.log(`\n## ${file}\n`);
      console.log(await summarizeProfile(join(profileDirectory, file), 25));
    }
    console.log(`\nprofiles: ${profileDirectory}`);
  }
  return failures === 0 ? 0 : 1;
}

process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});

main().then(
  (code) => {
    killAll();
    process.exitCode = code;
  },
  (error: unknown) => {
    killAll();
    console.error(error);
    process.exitCode = 1;
  },
);
