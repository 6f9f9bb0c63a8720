/**
 * Writes the fuzz's rows of docs/RELIABILITY.md, between its markers, so
 * that every figure there comes from a run of the command beside it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Flatness, FuzzReport } from "./fuzz.js";
import { MUTATIONS } from "./mutate.js";

const DOCUMENT = fileURLToPath(new URL("../../../docs/RELIABILITY.md", import.meta.url));
const START = "<!-- fuzz:start (written by pnpm fuzz -- --write) -->";
const END = "<!-- fuzz:end -->";

const HEADER = [
  `| mode | cases | by mutation (${MUTATIONS.join(", ")}) | half-closed | answered | closed before a whole frame | failing | processes died | valid calls right | RSS MiB after a full GC: floor early → late (highest without) | heap used MiB after a full GC: floor early → late | descriptors: first → highest | cases/s | seed | date | command |`,
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];

const mebibytes = (kibibytes: number): string => (kibibytes / 1024).toFixed(1);
const memoryCell = (flatness: Flatness | undefined): string =>
  flatness === undefined ? "a process per case" : `${mebibytes(flatness.early)} → ${mebibytes(flatness.late)} (${mebibytes(flatness.highest)})`;
const heapCell = (flatness: Flatness | undefined): string => (flatness === undefined ? "a process per case" : `${mebibytes(flatness.early)} → ${mebibytes(flatness.late)}`);
const descriptorCell = (flatness: Flatness | undefined): string => (flatness === undefined ? "a process per case" : `${flatness.early} → ${flatness.highest}`);

export function fuzzRow(report: FuzzReport, date: string, command: string): string {
  const closedEarly = report.answers["closed before a whole frame"] ?? 0;
  const answered = Object.entries(report.answers).reduce((sum, [answer, count]) => (answer === "closed before a whole frame" || answer === "left open" ? sum : sum + count), 0);
  return [
    report.mode,
    report.cases,
    MUTATIONS.map((mutation) => report.byMutation[mutation]).join(" / "),
    report.halfClosed,
    answered,
    closedEarly,
    report.failures.length,
    report.deaths,
    `${report.validCalls.right} of ${report.validCalls.made}`,
    memoryCell(report.memory),
    heapCell(report.heap),
    descriptorCell(report.descriptors),
    report.casesPerSecond,
    report.seed,
    date,
    `\`${command}\``,
  ]
    .map((cell) => ` ${cell} `)
    .join("|")
    .replace(/^/, "|")
    .replace(/$/, "|");
}

/** Replaces the rows of the same mode; keeps the others. */
export function mergeFuzzRows(document: string, reports: readonly FuzzReport[], date: string, command: string): string {
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/RELIABILITY.md has no fuzz section (${START} … ${END})`);
  const mode = (line: string): string => line.split("|")[1]?.trim() ?? "";
  const fresh = reports.map((report) => fuzzRow(report, date, command));
  const freshModes = new Set(fresh.map(mode));
  const existing = document
    .slice(start + START.length, end)
    .split("\n")
    .filter((line) => line.startsWith("| ") && !HEADER.includes(line) && !freshModes.has(mode(line)));
  const rows = [...existing, ...fresh].sort((a, b) => mode(a).localeCompare(mode(b)));
  return `${document.slice(0, start + START.length)}\n${[...HEADER, ...rows].join("\n")}\n${document.slice(end)}`;
}

export function writeFuzzRows(reports: readonly FuzzReport[], command: string): void {
  if (!existsSync(DOCUMENT)) throw new Error(`${DOCUMENT} is missing`);
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(DOCUMENT, mergeFuzzRows(readFileSync(DOCUMENT, "utf8"), reports, date, command));
}
