/** The report: JSON with every round's summary and the machine, and a Markdown table for people. */
import type { Row } from "./scenarios.js";
import type { Summary } from "./stats.js";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
  /** 1-minute load average before and after the run: a busy machine makes every figure noisier. */
  loadBefore: number;
  loadAfter: number;
}

function formatValue(value: number, unit: Row["unit"]): string {
  if (!Number.isFinite(value)) return "—";
  switch (unit) {
    case "calls/s":
      return Math.round(value).toLocaleString("en-US");
    case "ms":
      return value < 10 ? value.toFixed(3) : value.toFixed(1);
    case "µs":
      return value.toFixed(1);
    case "MiB":
      return value.toFixed(1);
    default:
      return String(value);
  }
}

function formatSummary(summary: Summary | undefined, unit: Row["unit"]): string {
  if (summary === undefined) return "—";
  return `${formatValue(summary.median, unit)} ${unit} (${formatValue(summary.min, unit)}–${formatValue(summary.max, unit)})`;
}

function formatRatio(ratio: Summary | undefined): string {
  if (ratio === undefined) return "—";
  return `${ratio.median.toFixed(2)}× (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})`;
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = ["| scenario | Funker | baseline | ratio | goal | met? |", "| --- | --- | --- | --- | --- | --- |"];
  for (const row of rows) {
    const goal = row.goal === undefined ? "report" : `${row.goal.op === ">=" ? "≥" : "≤"} ${row.goal.value}×`;
    const met = row.met === undefined ? "—" : row.met ? "yes" : "**no**";
    const baseline = row.baseline === undefined ? row.baselineLabel : `${formatSummary(row.baseline, row.unit)}: ${row.baselineLabel}`;
    lines.push(`| ${row.scenario}: ${row.metric} | ${formatSummary(row.funker, row.unit)} | ${baseline} | ${formatRatio(row.ratio)} | ${goal} | ${met} |`);
  }
  return lines.join("\n");
}

export function markdownReport(rows: readonly Row[], machine: Machine, notes: readonly string[], settings: { rounds: number; roundMs: number; cyclesPerRound: number; quick: boolean }): string {
  return [
    `# Benchmark results${settings.quick ? " (quick smoke run: not representative)" : ""}`,
    "",
    `${machine.date}: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node} on ${machine.platform}; ` +
      `load average ${machine.loadBefore.toFixed(2)} before, ${machine.loadAfter.toFixed(2)} after.`,
    "",
    `Each figure is the median over ${settings.rounds} rounds (min–max in brackets); each ratio is Funker over the baseline, ` +
      `taken round by round in the same run (baseline, Funker, baseline, Funker, …), then its median. ` +
      `Throughput rounds last ${settings.roundMs} ms; a whole-process round is the median of ${settings.cyclesPerRound} process cycles. ` +
      "Child processes run without NODE_EXTRA_CA_CERTS (it adds tens of ms to every Node start here; a function's container does not have it). " +
      "Everything runs on 127.0.0.1: callers and servers are separate processes.",
    "",
    markdownTable(rows),
    "",
    ...(notes.length > 0 ? ["Notes:", "", ...notes.map((note) => `- ${note}`), ""] : []),
    "Rerun: `pnpm bench` (all), `pnpm bench -- --scenario <name>`, `pnpm bench -- --quick`. Method and scenarios: bench/README.md.",
    "",
  ].join("\n");
}
