/**
 * Failing inputs, kept: every case a run found failing is added to
 * kept-cases.json with what went wrong, and the short test replays them
 * all, so that a fault found once stays fixed.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FailedCase } from "./fuzz.js";
import type { FuzzCase } from "./mutate.js";
import type { FuzzMode } from "./replica.js";

export interface KeptCase {
  readonly name: string;
  readonly mode: FuzzMode;
  /** What went wrong when it was found, and when. */
  readonly problem: string;
  readonly found: string;
  readonly hex: string;
  readonly halfClose: boolean;
  readonly chunks: readonly number[];
  readonly drip: boolean;
}

export const KEPT_CASES_FILE = fileURLToPath(new URL("../kept-cases.json", import.meta.url));

export function readKeptCases(file = KEPT_CASES_FILE): KeptCase[] {
  if (!existsSync(file)) return [];
  return (JSON.parse(readFileSync(file, "utf8")) as { cases: KeptCase[] }).cases;
}

/** Adds the failing cases not kept yet (the same bytes, delivery and mode); returns how many were new. */
export function keepFailures(failures: readonly FailedCase[], mode: FuzzMode, seed: number, found: string, file = KEPT_CASES_FILE): number {
  const kept = readKeptCases(file);
  const key = (testCase: Pick<KeptCase, "mode" | "hex" | "halfClose" | "chunks" | "drip">): string => JSON.stringify([testCase.mode, testCase.hex, testCase.halfClose, testCase.chunks, testCase.drip]);
  const known = new Set(kept.map(key));
  let added = 0;
  for (const failure of failures) {
    // A wrong answer to the valid call after a batch has no bytes of its own: the cases of that batch are kept instead.
    if (failure.hex === "" && failure.index < 0) continue;
    const testCase: KeptCase = { name: `seed ${seed} case ${failure.index}: ${failure.label}`, mode, problem: failure.problem, found, hex: failure.hex, halfClose: failure.halfClose, chunks: failure.chunks, drip: failure.drip };
    if (known.has(key(testCase))) continue;
    known.add(key(testCase));
    kept.push(testCase);
    added += 1;
  }
  if (added > 0) writeFileSync(file, `${JSON.stringify({ cases: kept }, null, 2)}\n`);
  return added;
}

export function keptAsCase(kept: KeptCase): FuzzCase {
  return { label: kept.name, mutations: [], bytes: Uint8Array.from(Buffer.from(kept.hex, "hex")), halfClose: kept.halfClose, chunks: kept.chunks, drip: kept.drip };
}
