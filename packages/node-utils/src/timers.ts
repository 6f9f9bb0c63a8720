/**
 * The longest delay `setTimeout` honours: Node keeps delays in a signed
 * 32-bit integer, and a longer one (about 24.8 days) fires at once instead.
 */
export const LONGEST_TIMER_MS = 2_147_483_647;

/** A delay `setTimeout` honours: `ms` clamped to 0 … LONGEST_TIMER_MS. */
export function timerDelay(ms: number): number {
  return Math.min(Math.max(0, ms), LONGEST_TIMER_MS);
}
