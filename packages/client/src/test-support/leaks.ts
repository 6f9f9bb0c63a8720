import { setImmediate as nextTurn } from "node:timers/promises";

const WATCHED = ["TCPSocketWrap", "TCPServerWrap", "Timeout"] as const;

type Counts = Record<(typeof WATCHED)[number], number>;

/** Counts the sockets and timers that keep the process alive. */
export function activeResources(): Counts {
  const counts: Counts = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const name of process.getActiveResourcesInfo()) {
    if ((WATCHED as readonly string[]).includes(name)) counts[name as keyof Counts] += 1;
  }
  return counts;
}

/**
 * Waits (bounded) until no more sockets or timers are active than at
 * `baseline`; closing sockets takes a turn or two of the event loop.
 */
export async function expectNoLeaks(baseline: Counts, within = 5_000): Promise<void> {
  const giveUpAt = Date.now() + within;
  for (;;) {
    const now = activeResources();
    if (WATCHED.every((name) => now[name] <= baseline[name])) return;
    if (Date.now() > giveUpAt) {
      throw new Error(`leaked resources: before ${JSON.stringify(baseline)}, after ${JSON.stringify(now)}`);
    }
    await nextTurn();
  }
}
