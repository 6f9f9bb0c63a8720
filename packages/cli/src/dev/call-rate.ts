/**
 * Calls per second over the last few seconds, kept as per-second counts so
 * that `funker status` reads a rate from the state file at once, without
 * sampling it twice, and a rate that has stopped reads as zero however long
 * ago the state was written.
 */

/** The seconds a rate is averaged over: long enough to smooth a burst, short enough to follow a step. */
export const RATE_WINDOW_SECONDS = 10;

/** Calls counted in each whole second (epoch seconds), oldest first: `[second, calls]`. */
export type CallCounts = readonly (readonly [number, number])[];

export class CallRate {
  private counts: [number, number][] = [];

  record(now = Date.now()): void {
    const second = Math.floor(now / 1000);
    const last = this.counts.at(-1);
    if (last !== undefined && last[0] === second) last[1] += 1;
    else this.counts.push([second, 1]);
    // The window, plus the second in progress.
    const oldest = second - RATE_WINDOW_SECONDS;
    while ((this.counts[0]?.[0] ?? second) < oldest) this.counts.shift();
  }

  snapshot(): CallCounts {
    return this.counts.map(([second, calls]) => [second, calls] as const);
  }
}

/** Calls per second over the last `RATE_WINDOW_SECONDS` whole seconds before `now`, from any number of replicas' counts. */
export function callsPerSecond(counts: readonly CallCounts[], now = Date.now()): number {
  const current = Math.floor(now / 1000);
  let calls = 0;
  for (const replica of counts) {
    for (const [second, count] of replica) if (second < current && second >= current - RATE_WINDOW_SECONDS) calls += count;
  }
  return calls / RATE_WINDOW_SECONDS;
}
