import type { Socket } from "node:net";
import type { Worker } from "node:worker_threads";

/**
 * How long after a call's deadline a process whose event loop is still held
 * is ended: the margin fresh mode's supervisor gives its processes. A process
 * whose event loop is free answers at the deadline itself, well before.
 */
export const HARD_TIMEOUT_MARGIN_MS = 500;

/**
 * The time limit held from outside the event loop (`hardTimeout`): a
 * `while (true) {}` never lets the handler's own alarm run, so something
 * that does not need the event loop answers the caller with bytes encoded
 * beforehand, then kills the process (SIGKILL: no handler of its could run).
 */
export interface HardTimeout {
  /**
   * Unless the returned disarm is called first, at `at` (epoch ms) writes
   * `bytes` to `socket` and kills the process.
   */
  arm(socket: Socket, at: number, bytes: Uint8Array): () => void;
  /** Disarms everything, and frees what the mechanism holds. */
  close(): void;
}

/** The hard timeout of a mode; fresh mode's is its supervisor's, not the process's own. */
export function hardTimeoutFor(mode: "single-shot" | "reuse"): HardTimeout {
  return mode === "single-shot" ? new SleeperTimeout() : new WatcherTimeout();
}

/**
 * Single-shot: one call per process, so one `/bin/sh` per process, started
 * when the call starts and killed at its reply. It holds a copy of the
 * accepted socket as its stdout, sleeps, writes the error, and kills the
 * replica; the orchestrator then starts the next one as after any exit.
 * A Node thread would cost every replica 56–74 ms of CPU and 8–9 MiB.
 */
class SleeperTimeout implements HardTimeout {
  private readonly sleepers = new Set<() => void>();
  private exitHook: (() => void) | undefined;

  arm(socket: Socket, at: number, bytes: Uint8Array): () => void {
    // Loaded here, not imported: a replica without a hard timeout never loads `node:child_process`.
    const { spawn } = process.getBuiltinModule("node:child_process");
    const seconds = (Math.max(0, at - Date.now()) / 1_000).toFixed(3);
    const child = spawn("/bin/sh", ["-c", sleeperScript(seconds, process.pid, bytes)], {
      // Its own process group, so that disarming ends `sleep` with it.
      detached: true,
      stdio: ["ignore", socket, "ignore"],
    });
    child.on("error", () => undefined);
    child.unref();
    const disarm = (): void => {
      if (!this.sleepers.delete(disarm)) return;
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
    };
    this.sleepers.add(disarm);
    // A replica that exits (a fault, a signal) must not leave a sleeper to write to the caller later.
    if (this.exitHook === undefined) {
      this.exitHook = () => this.close();
      process.once("exit", this.exitHook);
    }
    return disarm;
  }

  close(): void {
    for (const disarm of [...this.sleepers]) disarm();
    if (this.exitHook !== undefined) process.off("exit", this.exitHook);
    this.exitHook = undefined;
  }
}

/**
 * The sleeper's script. `bytes` are written as octal escapes of printf's
 * format, so no byte is read by the shell. Before writing it checks that
 * the replica is still its parent: a replica that died unseen (the kernel's
 * OOM killer) leaves it an orphan, and its pid may be another process's.
 */
function sleeperScript(seconds: string, pid: number, bytes: Uint8Array): string {
  return (
    `sleep ${seconds} >/dev/null 2>&1; ` +
    `if [ -r /proc/$$/stat ]; then read -r _ _ _ parent _ < /proc/$$/stat; [ "$parent" = ${pid} ] || exit 0; fi; ` +
    `printf '${printfEscapes(bytes)}'; kill -9 ${pid}`
  );
}

/** `bytes` as a printf format of octal escapes only (`\\ooo`): printf writes them back, any byte, and no `%` or quote remains for the shell or printf to read. */
export function printfEscapes(bytes: Uint8Array): string {
  let escaped = "";
  for (const byte of bytes) escaped += `\\${byte.toString(8).padStart(3, "0")}`;
  return escaped;
}

/**
 * Reuse mode: calls follow each other tens of µs apart, too fast for a
 * process each. One worker thread per replica, started with it, keeps a
 * timer per call in flight; when one fires it writes the error to that
 * call's socket descriptor and kills the process, whose other connections
 * the kernel then closes (their callers see `handler_crashed`).
 */
class WatcherTimeout implements HardTimeout {
  private readonly worker: Worker;
  private nextKey = 0;

  constructor() {
    const { Worker } = process.getBuiltinModule("node:worker_threads");
    this.worker = new Worker(WATCHER_SOURCE, { eval: true, stdout: false, stderr: false });
    this.worker.unref();
  }

  arm(socket: Socket, at: number, bytes: Uint8Array): () => void {
    // libuv's descriptor of the accepted socket: Linux and macOS have one; elsewhere there is nothing to write to.
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd === undefined || fd < 0) return noDisarm;
    const key = (this.nextKey = (this.nextKey + 1) % Number.MAX_SAFE_INTEGER);
    this.worker.postMessage({ key, at, fd, bytes });
    let armed = true;
    return () => {
      if (!armed) return;
      armed = false;
      this.worker.postMessage(key);
    };
  }

  close(): void {
    void this.worker.terminate();
  }
}

const noDisarm = (): void => undefined;

/** The watcher thread: a message `{ key, at, fd, bytes }` arms, a bare key disarms. */
const WATCHER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { writeSync } = require("node:fs");
const timers = new Map();
parentPort.on("message", (message) => {
  if (typeof message === "number") {
    clearTimeout(timers.get(message));
    timers.delete(message);
    return;
  }
  timers.set(message.key, setTimeout(() => {
    try { writeSync(message.fd, message.bytes); } catch {}
    process.kill(process.pid, "SIGKILL");
  }, Math.max(0, message.at - Date.now())));
});
`;
