import { CallRate } from "./call-rate.js";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { isCallLine, parseLogLine, READY_FD_VARIABLE, READY_LINE } from "@funker/handler/contract";
import type { FunctionMode } from "../config/funker-yml.js";
import { formatDuration } from "../duration.js";
import { LineSplitter } from "../terminal.js";
import { RESTART_DELAY_MS } from "../config/restart-delay.js";
import { decideRestart } from "./restart-policy.js";
import type { ReplicaError, ReplicaState, ReplicaStatus } from "./state.js";

/** Time a replica gets to finish after SIGTERM before SIGKILL; the handler finishes a call in flight first. */
export const STOP_GRACE_MS = 5_000;

/**
 * The replica's file descriptor that holds its end of the runtime's pipe:
 * the first after stdin, stdout and stderr. The runtime never writes on it;
 * a fresh replica writes its ready line on it (`READY_FD_VARIABLE`).
 */
const RUNTIME_PIPE_FD = 3;
/** Tells the code below which descriptor to watch; removed before the function runs. */
const RUNTIME_PIPE_VARIABLE = "FUNKER_RUNTIME_PIPE_FD";

/**
 * Loaded into each replica before the function (`node --import`), so that a
 * replica ends when the runtime that started it is gone, however it went,
 * SIGKILL included: Node has no parent-death signal. The runtime holds the
 * other end of a pipe on the replica's fd 3; the kernel closes that end when
 * the runtime dies, and the replica reads end of file. It then stops as the
 * runtime would have stopped it: SIGTERM (the handler finishes a call in
 * flight), SIGKILL after the grace period. The pipe is idle until then, so
 * calls cost nothing more, and unreferenced, so it never keeps a replica
 * alive. The variable is removed before the function runs: the function's
 * own Node children inherit `--import` but not the variable, and do nothing.
 */
const EXIT_WITH_RUNTIME = `
import { Socket } from "node:net";
if (process.env.${RUNTIME_PIPE_VARIABLE} === "${RUNTIME_PIPE_FD}") {
  delete process.env.${RUNTIME_PIPE_VARIABLE};
  try {
    const runtime = new Socket({ fd: ${RUNTIME_PIPE_FD}, readable: true, writable: false });
    runtime.on("error", () => {});
    runtime.on("close", () => {
      process.kill(process.pid, "SIGTERM");
      setTimeout(() => process.kill(process.pid, "SIGKILL"), ${STOP_GRACE_MS}).unref();
    });
    runtime.resume();
    runtime.unref();
  } catch {
    // A platform where the descriptor cannot be watched: the function runs as it would without it.
  }
}
`;

/**
 * Writes the module above where the runtime's replicas load it from: a
 * file, not a data: URL, so that `ps` shows a short command line. Written
 * through a rename, as a replica may start while another runtime writes it.
 */
export function writeExitWithRuntimeModule(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, EXIT_WITH_RUNTIME);
  renameSync(temporary, file);
}

/**
 * What a slot runs: a function's bundle under this Node (read at each start,
 * so a rebuild takes effect at the next start), or a service's command.
 */
export type ReplicaProgram = { readonly bundle: string } | { readonly command: readonly string[] };

/** What a replica needs from the runtime that owns it. */
export interface ReplicaHost {
  program(replica: Replica): ReplicaProgram;
  /** The environment of each start. */
  environment(replica: Replica): NodeJS.ProcessEnv;
  /** A line the replica printed (on stdout or stderr), or a line about it. */
  output(replica: Replica, line: string, kind: "stdout" | "stderr" | "event" | "warning"): void;
  changed(replica: Replica): void;
  /** Whether a command waits for every replica to listen (and so gives up on one that never starts). */
  readonly commandWaits: boolean;
  /** The file `writeExitWithRuntimeModule` wrote, which every Node process of a slot loads first. */
  readonly exitWithRuntimeFile: string;
}

/**
 * One replica slot of a function, or the one slot of a service: a port and
 * the succession of processes that serve on it. A single-shot replica exits after each call and starts
 * again at once on the same port, as Swarm restarts it with delay 0; a
 * replica that had started and then failed (a crash, a kill) starts again
 * after the deployment's restart delay for its mode, as Swarm would; one that
 * fails to start at all starts again after an exponential back-off, so a
 * function that cannot start does not spin a CPU. When and why is
 * `decideRestart`'s to say (restart-policy.ts).
 */
export class Replica {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private consecutiveFailures = 0;
  private startedAt = 0;
  private callsThisProcess = 0;
  private fatalMessage: string | undefined;
  private everListening = false;
  private listenedThisProcess = false;
  private givenUp: string | undefined;
  private readonly listeningWaiters: Array<() => void> = [];

  state: ReplicaState = "stopped";
  calls = 0;
  failedCalls = 0;
  private readonly callRate = new CallRate();
  /** Processes started after one that ended normally (its calls served): the normal life of a single-shot replica. */
  recycles = 0;
  /** Processes started after one that failed. */
  restarts = 0;
  lastError: ReplicaError | undefined;
  /** Where Node's inspector of each process of this slot listens, under `funker dev --inspect`. */
  inspectPort: number | undefined;

  constructor(
    readonly functionName: string,
    /** 1-based. */
    readonly index: number,
    readonly port: number,
    /** A function's mode, or `"service"` for a service of `services:`, which is long-running and speaks no call log. */
    readonly mode: FunctionMode | "service",
    readonly cwd: string,
    private readonly host: ReplicaHost,
    /**
     * The function runs a 2017 Funker library (funker.yml's `protocol:
     * legacy`): it writes no call log line, so an exit 0 is a served call,
     * as the 2017 library exits after its one call.
     */
    private readonly speaks2017 = false,
  ) {}

  /** `add.1`, as in the output prefix; a service's name alone. */
  get label(): string {
    return this.mode === "service" ? this.functionName : `${this.functionName}.${this.index}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Failed starts in a row; reset when a process serves a call or stays up 10 s. */
  get failuresInARow(): number {
    return this.consecutiveFailures;
  }

  /** Whether some process in this slot was seen listening. */
  get hasListened(): boolean {
    return this.everListening;
  }

  /** Why the restart policy gave up on this slot (its failures while a command waited); undefined while it has not. */
  get gaveUp(): string | undefined {
    return this.givenUp;
  }

  start(): void {
    this.stopping = false;
    this.clearRestartTimer();
    if (this.child !== undefined) return;
    this.spawnProcess();
  }

  /** Replaces the process now (after a rebuild): a fresh start, without back-off. */
  async replace(): Promise<void> {
    await this.stop();
    this.consecutiveFailures = 0;
    this.givenUp = undefined;
    this.start();
  }

  /** Stops the process (SIGTERM, then SIGKILL after the grace period) and cancels any pending restart. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.clearRestartTimer();
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
      this.setState("stopped");
      return;
    }
    const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
    this.kill("SIGTERM");
    const killer = setTimeout(() => this.kill("SIGKILL"), STOP_GRACE_MS);
    await closed;
    clearTimeout(killer);
  }

  /**
   * Signals the process; a service's whole process group, since its command
   * may be a shell, or a program with children of its own (a database).
   */
  kill(signal: NodeJS.Signals): void {
    const child = this.child;
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (this.mode !== "service") {
      child.kill(signal);
      return;
    }
    try {
      process.kill(-child.pid, signal);
    } catch {
      // The group is gone already: its leader's close event is on its way.
    }
  }

  /**
   * Whether the replica says itself when it takes calls (a fresh replica's
   * ready line); the others are seen listening in the kernel's socket table.
   */
  get reportsReadiness(): boolean {
    return this.mode === "fresh";
  }

  /** Called when the replica takes calls: by the runtime's poller when the kernel shows this port listening, or on the replica's ready line. */
  markListening(): void {
    if (this.state !== "starting") return;
    this.everListening = true;
    this.listenedThisProcess = true;
    this.setState("idle");
    for (const waiter of this.listeningWaiters.splice(0)) waiter();
  }

  /** Resolves when a process in this slot first listens. */
  whenListening(): Promise<void> {
    return this.everListening ? Promise.resolve() : new Promise((resolve) => this.listeningWaiters.push(resolve));
  }

  status(): ReplicaStatus {
    return {
      replica: this.index,
      port: this.port,
      pid: this.pid,
      state: this.state,
      calls: this.calls,
      recentCalls: this.callRate.snapshot(),
      failedCalls: this.failedCalls,
      recycles: this.recycles,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }

  private spawnProcess(): void {
    this.startedAt = Date.now();
    this.callsThisProcess = 0;
    this.listenedThisProcess = false;
    this.fatalMessage = undefined;
    this.setState("starting");
    // A process group of its own: Ctrl-C in the terminal reaches the runtime
    // only, which then stops every replica itself, without racing restarts.
    // The fourth pipe is never written: its end of file tells the replica the runtime is gone.
    const environment: NodeJS.ProcessEnv = {
      ...this.host.environment(this),
      [RUNTIME_PIPE_VARIABLE]: String(RUNTIME_PIPE_FD),
      // A fresh replica says on the same pipe when it takes calls.
      ...(this.reportsReadiness ? { [READY_FD_VARIABLE]: String(RUNTIME_PIPE_FD) } : {}),
    };
    const program = this.host.program(this);
    const exitWithRuntime = pathToFileURL(this.host.exitWithRuntimeFile).href;
    let file = process.execPath;
    // The title is what `ps` and `top` show for the replica instead of its long command line.
    let args = [`--title=funker replica ${this.label}`, "--enable-source-maps", "--import", exitWithRuntime];
    if (this.inspectPort !== undefined) args.unshift(`--inspect=127.0.0.1:${this.inspectPort}`);
    if ("bundle" in program) args.push(program.bundle);
    else {
      [file = "", ...args] = program.command;
      // A service run by Node (directly or through a shell) watches the pipe
      // as a replica does; another program outlives a runtime killed with
      // SIGKILL, and is stopped with its process group otherwise.
      environment["NODE_OPTIONS"] = [environment["NODE_OPTIONS"], `--import=${exitWithRuntime}`].filter(Boolean).join(" ");
    }
    const child = spawn(file, args, {
      cwd: this.cwd,
      env: environment,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    this.child = child;
    const stdout = new LineSplitter((line) => this.host.output(this, line, "stdout"));
    const stderr = new LineSplitter((line) => this.onStderrLine(line));
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    if (this.reportsReadiness) {
      let said = "";
      child.stdio[RUNTIME_PIPE_FD]?.on("data", (chunk: Buffer) => {
        said = (said + chunk.toString("utf8")).slice(-READY_LINE.length * 2);
        if (said.includes(READY_LINE) && this.child === child) this.markListening();
      });
    }
    child.on("error", (error) => {
      this.host.output(this, `cannot start: ${error.message}`, "warning");
    });
    // "close", not "exit": every line the process wrote has been read by then.
    child.on("close", (code, signal) => {
      stdout.flush();
      stderr.flush();
      this.child = undefined;
      this.onExit(code, signal);
    });
  }

  private onStderrLine(line: string): void {
    const parsed = this.mode === "service" ? undefined : parseLogLine(line);
    if (parsed === undefined) {
      this.host.output(this, line, "stderr");
      return;
    }
    if (isCallLine(parsed)) {
      this.callsThisProcess += 1;
      this.calls += 1;
      this.callRate.record();
      this.consecutiveFailures = 0;
      const duration = formatDuration(parsed.durationMs);
      if (parsed.outcome === "error") {
        this.failedCalls += 1;
        // The thrown error's details come only when the replica exposes stacks, as funker dev has it do.
        const thrown = parsed.message === undefined ? undefined : `${parsed.name ?? "Error"}: ${parsed.message}`;
        this.lastError = { code: parsed.code ?? "internal", message: thrown ?? `call ${parsed.id} failed`.replace("  ", " "), at: Date.now() };
        this.host.output(this, `call ${parsed.id} failed: ${parsed.code ?? "error"} (${duration})${thrown === undefined ? "" : `: ${thrown}`}`, "warning");
        for (const stackLine of parsed.stack?.split("\n").slice(1) ?? []) this.host.output(this, stackLine, "stderr");
      } else {
        this.host.output(this, `call ${parsed.id} ok (${duration})`, "stderr");
      }
      this.host.changed(this);
      return;
    }
    const text = parsed.message !== undefined && parsed.message !== parsed.msg ? `${parsed.msg}: ${parsed.message}` : parsed.msg;
    if (parsed.level === "fatal") this.fatalMessage = text;
    this.host.output(this, `${parsed.level}: ${text}`, "warning");
    if (parsed.stack !== undefined && !/EADDRINUSE/.test(text)) {
      for (const stackLine of parsed.stack.split("\n").slice(1)) this.host.output(this, stackLine, "stderr");
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) {
      this.setState("stopped");
      return;
    }
    const upMs = Date.now() - this.startedAt;
    const decision = decideRestart(
      {
        code,
        signal,
        callsServed: this.speaks2017 && code === 0 ? Math.max(1, this.callsThisProcess) : this.callsThisProcess,
        upMs,
        fatalMessage: this.fatalMessage,
        service: this.mode === "service",
        listened: this.listenedThisProcess,
        restartDelayMs: this.mode === "service" ? undefined : RESTART_DELAY_MS[this.mode],
      },
      { failuresInARow: this.consecutiveFailures, hasListened: this.everListening, commandWaits: this.host.commandWaits },
    );
    this.consecutiveFailures = decision.failuresInARow;
    if (decision.action === "restart-now") {
      this.recycles += 1;
      this.spawnProcess();
      this.host.changed(this);
      return;
    }

    const { how, reason, code: errorCode } = decision.failure;
    this.lastError = { code: errorCode, message: reason === undefined ? how : `${how}: ${reason}`, at: Date.now() };
    const exited = `${how} after ${formatDuration(upMs)}${reason === undefined ? "" : ` (${reason})`}`;
    if (decision.action === "give-up") {
      this.givenUp = decision.reason;
      this.host.output(this, `${exited}; not restarted (failure ${decision.failuresInARow} in a row)`, "warning");
      this.setState("stopped");
      return;
    }
    const when = decision.delayMs === 0 ? "restarting at once" : `restarting in ${formatDuration(decision.delayMs)}`;
    this.host.output(this, `${exited}; ${when} (failure ${decision.failuresInARow} in a row)`, "warning");
    this.setState("backing-off");
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopping) return;
      this.restarts += 1;
      this.spawnProcess();
    }, decision.delayMs);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private setState(state: ReplicaState): void {
    if (this.state === state) return;
    this.state = state;
    this.host.changed(this);
  }
}
