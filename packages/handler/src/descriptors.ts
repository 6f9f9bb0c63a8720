import { closeSync, openSync, readFileSync } from "node:fs";
import { devNull } from "node:os";
import { SETTINGS } from "./contract.js";
import { logProcess } from "./log.js";
import type { LogSink } from "./log.js";

/**
 * The process's limit of open files (its soft `RLIMIT_NOFILE`, which Node
 * raises to the hard limit as it starts), from /proc/self/limits; undefined
 * where that file does not exist (not Linux) or says "unlimited".
 */
export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+)/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** `maxConnections` when none is set: see `SETTINGS` for why three quarters. */
export function defaultMaxConnections(openFiles: number | undefined): number {
  const ceiling = SETTINGS.maxConnections.default;
  return openFiles === undefined ? ceiling : Math.max(1, Math.min(ceiling, Math.floor((openFiles * 3) / 4)));
}

/** An open connection as the limit sees it. */
export interface LimitedConnection {
  /** No byte has come since it was accepted. */
  readonly silent: boolean;
  /** A kept connection between calls. */
  readonly idleBetweenCalls: boolean;
  /** Closes it; a kept one says first that a call crossing the close was refused. */
  shed(): void;
}

/**
 * Closes the connection that holds least: the oldest silent one (likely a
 * caller that connects and sends nothing), else the oldest kept one between
 * calls (its client opens another when it needs one). `open` iterates in the
 * order of accept. False when every connection carries a call.
 */
export function shedOne(open: Iterable<LimitedConnection>): boolean {
  let idle: LimitedConnection | undefined;
  for (const connection of open) {
    if (connection.silent) {
      connection.shed();
      return true;
    }
    if (connection.idleBetweenCalls) idle ??= connection;
  }
  idle?.shed();
  return idle !== undefined;
}

/** Closes every connection that holds no call; returns how many. */
export function shedAll(open: Iterable<LimitedConnection>): number {
  const idle = [...open].filter((connection) => connection.silent || connection.idleBetweenCalls);
  for (const connection of idle) connection.shed();
  return idle.length;
}

/** How often the process checks that it can still open a descriptor. */
const CHECK_EVERY_MS = 1_000;
/** At most one log line per this long about running out of descriptors, with the count since the last. */
const LOG_EVERY_MS = 10_000;

/**
 * Notices when the process has run out of file descriptors. Node never says
 * so: when `accept` fails with EMFILE or ENFILE, libuv accepts and closes the
 * waiting connections with a descriptor it keeps in reserve, and no error
 * reaches JavaScript, so callers see their connections closed and nothing is
 * logged. Once a second this opens and closes the null device; when that
 * fails for want of descriptors, the replica closes every connection that
 * holds no call (`onExhausted`) and logs one line per 10 s with the count.
 * The check's timer never keeps the process alive.
 */
export class DescriptorWatch {
  private readonly timer: NodeJS.Timeout;
  private failedChecks = 0;
  private closedConnections = 0;
  private lastCode = "";
  private lastLoggedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly onExhausted: () => number,
    private readonly describe: () => string,
    private readonly log: LogSink | undefined,
  ) {
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Runs one check now (the timer runs it once a second). */
  check(now = Date.now()): void {
    try {
      closeSync(openSync(devNull, "r"));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "";
      if (code !== "EMFILE" && code !== "ENFILE") return;
      this.lastCode = code;
      this.failedChecks += 1;
      this.closedConnections += this.onExhausted();
    }
    if (this.failedChecks > 0 && now - this.lastLoggedAt >= LOG_EVERY_MS) {
      const which = this.lastCode === "ENFILE" ? "the system's file table is full (ENFILE)" : "the process's open-file limit is reached (EMFILE)";
      logProcess(
        "error",
        `out of file descriptors: new connections are closed before they are read; ${which}`,
        `${this.failedChecks} ${this.failedChecks === 1 ? "check" : "checks"} found none free since the last line; ${this.closedConnections} connections holding no call closed to make room; ${this.describe()}`,
        this.log,
      );
      this.lastLoggedAt = now;
      this.failedChecks = 0;
      this.closedConnections = 0;
    }
  }
}
