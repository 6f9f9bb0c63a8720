/** Medians and spreads: every figure of the report is a median over rounds, never a single run. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  /** First and third quartiles. */
  q1: number;
  q3: number;
  rounds: number;
}

function quantileOfSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const low = sorted[lower] as number;
  const high = sorted[upper] as number;
  return low + (high - low) * (position - lower);
}

export function summarize(values: readonly number[]): Summary {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  return {
    median: quantileOfSorted(sorted, 0.5),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    q1: quantileOfSorted(sorted, 0.25),
    q3: quantileOfSorted(sorted, 0.75),
    rounds: sorted.length,
  };
}

/** Ratios pair by pair (round i of Funker over round i of the baseline), so that drift of the machine cancels out. */
export function pairRatios(funker: readonly number[], baseline: readonly number[]): number[] {
  const pairs = Math.min(funker.length, baseline.length);
  return Array.from({ length: pairs }, (_, index) => (funker[index] as number) / (baseline[index] as number));
}
