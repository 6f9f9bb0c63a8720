import { LONGEST_TIMER_MS } from "./timers.js";

/**
 * One timer for every time limit of a connection (the handler's read,
 * deadline, heartbeat, idle and linger limits; the client's deadline,
 * heartbeat silence and idle limits). Setting and clearing a timer per limit per call costs more
 * than a small call's own work, so the alarm is re-armed only when a limit
 * earlier than the one it is set for is asked; otherwise it may fire early,
 * and its owner checks on each firing which limit is actually due and asks
 * again for the next one. In a steady stream of calls it is armed a few
 * times per limit period, not several times per call.
 */
export class Alarm {
  private timer: NodeJS.Timeout | undefined;
  private delayMs = -1;
  private dueAt = Number.POSITIVE_INFINITY;
  private keepsProcessAlive = true;

  constructor(private readonly onFire: () => void) {}

  /** Makes sure the alarm fires at `at` (epoch ms) or earlier. */
  setBy(at: number, now: number): void {
    if (at >= this.dueAt) return;
    const delay = Math.min(Math.max(0, at - now), LONGEST_TIMER_MS);
    if (this.timer !== undefined && delay === this.delayMs) {
      this.timer.refresh();
    } else {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = setTimeout(this.fire, delay);
      if (!this.keepsProcessAlive) this.timer.unref();
      this.delayMs = delay;
    }
    this.dueAt = now + delay;
  }

  /** From now on the alarm does not keep the process alive (a connection that is only lingering). */
  unref(): void {
    this.keepsProcessAlive = false;
    this.timer?.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.delayMs = -1;
    this.dueAt = Number.POSITIVE_INFINITY;
  }

  private readonly fire = (): void => {
    this.dueAt = Number.POSITIVE_INFINITY;
    this.onFire();
  };
}
