/**
 * Writes the soak's rows of docs/RELIABILITY.md, between its markers, so
 * that every figure there comes from a run of the command beside it.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SoakReport } from "./soak.js";

const DOCUMENT = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "docs", "RELIABILITY.md");
const START = "<!-- soak:start (written by pnpm soak -- --write) -->";
const END = "<!-- soak:end -->";

const HEADER = [
  "| target | mode | calls | succeeded | errors by code | may have run (of which ran) | lost | duplicated | wrong \"did not run\" | kills (mid-call + random) | calls/s | date | command |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
];

export function soakRow(report: SoakReport, date: string, command: string): string {
  const errors = Object.entries(report.errors)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, count]) => `${code} ${count}`)
    .join(", ");
  return `| ${report.target} | ${report.mode} | ${report.calls} | ${report.succeeded} | ${errors === "" ? "none" : errors} | ${report.mayHaveRun} (${report.mayHaveRunExecuted}) | ${report.lost} | ${report.duplicated} | ${report.wrongNotRun} | ${report.kills.midCall} + ${report.kills.random} | ${report.callsPerSecond} | ${date} | \`${command}\` |`;
}

/** Replaces the rows of the same target and mode; keeps the others. */
export function mergeSoakRows(document: string, reports: readonly SoakReport[], date: string, command: string): string {
  const start = document.indexOf(START);
  const end = document.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/RELIABILITY.md has no soak section (${START} … ${END})`);
  const existing = document
    .slice(start + START.length, end)
    .split("\n")
    .filter((line) => line.startsWith("| ") && !HEADER.includes(line));
  const key = (line: string): string => line.split("|").slice(1, 3).map((cell) => cell.trim()).join("/");
  const fresh = reports.map((report) => soakRow(report, date, command));
  const freshKeys = new Set(fresh.map(key));
  const rows = [...existing.filter((line) => !freshKeys.has(key(line))), ...fresh].sort((a, b) => key(a).localeCompare(key(b)));
  return `${document.slice(0, start + START.length)}\n${[...HEADER, ...rows].join("\n")}\n${document.slice(end)}`;
}

export function writeSoakRows(reports: readonly SoakReport[], command: string): void {
  if (!existsSync(DOCUMENT)) throw new Error(`${DOCUMENT} is missing`);
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(DOCUMENT, mergeSoakRows(readFileSync(DOCUMENT, "utf8"), reports, date, command));
}
