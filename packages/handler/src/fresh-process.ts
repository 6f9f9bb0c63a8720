import type { ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import { READY_FD_VARIABLE } from "./contract.js";
import type { FreshCall } from "./fresh-call.js";
import { CALL_PIPE_FD, FRESH_CHILD_VARIABLE, isFromProcess } from "./fresh-messages.js";
import type { RepliedMessage, StartedMessage, SupervisorAddress, ToProcess } from "./fresh-messages.js";

/** What a process tells its supervisor, as it happens. */
export interface FreshProcessEvents {
  ready(process: FreshProcess): void;
  started(process: FreshProcess, message: StartedMessage): void;
  replied(process: FreshProcess, message: RepliedMessage): void;
  /** The process has exited and every message it sent has been read. */
  exited(process: FreshProcess, code: number | null, signal: NodeJS.Signals | null): void;
}

/** How a supervisor starts its processes. */
export interface ProcessCommand {
  /** The program's main module: the function's own, run again. */
  readonly script: string;
  readonly args: readonly string[];
  readonly execArgv: readonly string[];
  readonly environment: NodeJS.ProcessEnv;
}

/**
 * `starting` until the process says it waits; `waiting`; `serving` from the
 * hand-over of a call until the process exits (a process that has replied
 * still holds its slot while it winds down).
 */
export type ProcessState = "starting" | "waiting" | "serving";

/** Variables a process always gets, whatever `childEnv` lists: the handler's settings, and what shapes Node itself. */
const ALWAYS_PASSED = /^(?:FUNKER_.*|NODE_ENV|NODE_OPTIONS)$/;
/** A variable name, as `childEnv` must list them. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads `childEnv` (`"PATH, HOME,DB_URL"`): the names, or why the text is not
 * such a list. Undefined text means the whole environment.
 */
export function parseChildEnv(text: string | undefined): { names: ReadonlySet<string> | undefined } | { problem: string } {
  if (text === undefined) return { names: undefined };
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  const bad = names.find((name) => !VARIABLE_NAME.test(name));
  if (bad !== undefined) return { problem: `"${bad}" is not a variable name` };
  return { names: new Set(names) };
}

/**
 * The environment of a process: the supervisor's, or only the variables
 * `names` lists (and those always passed), with the supervisor's marker and
 * address, and without the readiness descriptor, which is the supervisor's.
 */
export function processEnvironment(environment: NodeJS.ProcessEnv, names: ReadonlySet<string> | undefined, address: SupervisorAddress): NodeJS.ProcessEnv {
  const chosen: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(environment)) {
    if (names === undefined || names.has(name) || ALWAYS_PASSED.test(name)) chosen[name] = value;
  }
  delete chosen[READY_FD_VARIABLE];
  chosen[FRESH_CHILD_VARIABLE] = JSON.stringify({ host: address.host, port: address.port });
  return chosen;
}

/** Node's inspector flags: `--inspect`, `--inspect-brk`, `--inspect-wait`, with an optional `[host:]port`. */
const INSPECT_FLAG = /^--inspect(-brk|-wait)?(?:=(.*))?$/;
/** Flags that only set the inspector's port, which a process must not share with its supervisor. */
const INSPECT_PORT_FLAG = /^--(?:inspect-port|debug-port)(?:=.*)?$/;

/**
 * A process's Node flags: the supervisor's, with its inspector (`funker dev
 * --inspect`) moved to a port of the process's own, picked by the kernel.
 * The supervisor holds its port: a process given the same one would print
 * "address already in use" and run without an inspector. Node prints the
 * port it got ("Debugger listening on ws://…") on the process's standard
 * error, which is the replica's.
 */
export function processExecArgv(execArgv: readonly string[]): string[] {
  const flags: string[] = [];
  for (const flag of execArgv) {
    if (INSPECT_PORT_FLAG.test(flag)) continue;
    const inspect = INSPECT_FLAG.exec(flag);
    if (inspect === null) {
      flags.push(flag);
      continue;
    }
    const address = inspect[2] ?? "";
    const colon = address.lastIndexOf(":");
    const host = colon > 0 ? address.slice(0, colon) : /^\d*$/.test(address) ? "127.0.0.1" : address;
    flags.push(`--inspect${inspect[1] ?? ""}=${host}:0`);
  }
  return flags;
}

/** One process of a fresh-mode supervisor: started, waiting, given one call, gone. */
export class FreshProcess {
  state: ProcessState = "starting";
  /** The call handed to it, once it serves. */
  call: FreshCall | undefined;
  /** Whether the process has replied to its call (it may still be running). */
  replied = false;
  readonly startedAt = Date.now();
  private readonly child: ChildProcess;
  private readonly pipe: Socket;
  private timer: NodeJS.Timeout | undefined;
  private killed = false;

  constructor(command: ProcessCommand, private readonly events: FreshProcessEvents) {
    // Loaded here, not imported: every function's bundle holds this module, and `node:child_process`
    // costs a single-shot replica, and every fresh process, about 2 ms of start-up for nothing.
    const { fork } = process.getBuiltinModule("node:child_process");
    // stdout and stderr are the supervisor's own: the process's lines (its call log line first) go
    // where a replica's would, without being copied through the supervisor.
    this.child = fork(command.script, [...command.args], {
      execArgv: [...command.execArgv],
      env: command.environment,
      stdio: ["ignore", "inherit", "inherit", "ipc", "pipe"],
    });
    this.pipe = this.child.stdio[CALL_PIPE_FD] as Socket;
    this.pipe.on("error", () => undefined);
    this.child.on("message", (message: unknown) => this.onMessage(message));
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let disconnected = false;
    let reported = false;
    const report = (): void => {
      if (exit === undefined || !disconnected || reported) return;
      reported = true;
      this.clearTimer();
      this.events.exited(this, exit.code, exit.signal);
    };
    // A fork that fails (no memory, no processes left) never runs: it is reported as an exit, and the slot is started again.
    this.child.on("error", () => {
      if (this.child.pid !== undefined) return;
      exit ??= { code: null, signal: null };
      disconnected = true;
      report();
    });
    // Messages sent before the exit are all read by the time the channel is seen closed.
    this.child.once("disconnect", () => {
      disconnected = true;
      report();
    });
    this.child.once("exit", (code, signal) => {
      exit = { code, signal };
      if (!this.child.connected) disconnected = true;
      report();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Hands `call` over: the process reads it from its pipe from now on. */
  serve(call: FreshCall): void {
    this.state = "serving";
    this.call = call;
    call.timedFrom = Date.now();
    this.send({ type: "call", acceptedAt: call.timedFrom });
    call.attach(this.pipe, () => this.send({ type: "gone" }));
  }

  /** Runs `action` at `at` (epoch ms), replacing any earlier limit: the supervisor's limits on this process. */
  limitAt(at: number, action: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(action, Math.max(0, at - Date.now()));
  }

  /** Asks a process that has no call (waiting, or starting) to exit. */
  stop(): void {
    if (!this.killed) this.child.kill("SIGTERM");
  }

  /** Ends the process at once, whatever it is doing (from outside its event loop). */
  kill(): void {
    this.killed = true;
    this.child.kill("SIGKILL");
  }

  private onMessage(message: unknown): void {
    if (!isFromProcess(message)) return;
    switch (message.type) {
      case "ready":
        if (this.state !== "starting") return;
        this.state = "waiting";
        // Before its call, so that the process's message path has run once (see `WarmUpMessage`).
        this.send({ type: "warm-up" });
        this.events.ready(this);
        return;
      case "started":
        this.events.started(this, message);
        return;
      case "replied":
        if (this.replied) return;
        this.replied = true;
        this.events.replied(this, message);
        return;
    }
  }

  private send(message: ToProcess): void {
    if (this.child.connected) this.child.send(message, undefined, undefined, () => undefined);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
