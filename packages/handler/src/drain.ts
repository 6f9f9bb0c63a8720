import { ExitCode } from "./contract.js";
import type { LogSink } from "./log.js";
import { logProcess } from "./log.js";

/**
 * What still keeps the event loop alive, counted by kind (`2 Timeout, 1
 * TCPSocketWrap`): the line of a process ended with work left running says
 * what that work was waiting on. Only what holds the loop is listed, so the
 * handler's own unreferenced timers are not.
 */
export function pendingWork(): string {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  if (counts.size === 0) return "pending: nothing the event loop shows (a promise that never settles)";
  return `pending: ${[...counts].map(([kind, count]) => `${count} ${kind}`).join(", ")}`;
}

/**
 * After its reply, a process that serves one call (single-shot, a fresh
 * process) ends as the 2017 library's did: when nothing of the function's is
 * left running, with `exitCode`. Work the function left running (a write it
 * started after calling back) thus completes. It is ended at `budgetMs`
 * (`drainTimeout`) with `ExitCode.recycled` and a line saying what was still
 * pending. Nothing of this keeps the process alive by itself.
 */
export class Drain {
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout;
  private endsAt: number;

  constructor(
    budgetMs: number,
    exitCode: number,
    private readonly log: LogSink | undefined,
  ) {
    process.exitCode = exitCode;
    this.endsAt = this.startedAt + budgetMs;
    this.timer = this.arm(budgetMs);
  }

  /** A stop signal: what is left of the drain is bounded by `ms` (the grace period) as well. */
  limit(ms: number): void {
    if (Date.now() + ms >= this.endsAt) return;
    clearTimeout(this.timer);
    this.endsAt = Date.now() + ms;
    this.timer = this.arm(ms);
  }

  private arm(ms: number): NodeJS.Timeout {
    const boundMs = this.endsAt - this.startedAt;
    const timer = setTimeout(() => {
      logProcess("error", `the function left work running ${boundMs} ms after its call; the process exits ${ExitCode.recycled}`, pendingWork(), this.log);
      process.exit(ExitCode.recycled);
    }, ms);
    timer.unref();
    return timer;
  }
}
