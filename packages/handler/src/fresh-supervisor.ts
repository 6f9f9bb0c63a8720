import { writeSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { FunkerError } from "@funker/protocol";
import type { ErrorCode, WireError } from "@funker/protocol";
import { refuseWithinBound } from "./busy.js";
import { DescriptorWatch, shedAll, shedOne } from "./descriptors.js";
import type { CallRecord } from "./call-record.js";
import { ExitCode, READY_FD_VARIABLE, READY_LINE } from "./contract.js";
import { FreshCall } from "./fresh-call.js";
import type { FreshOpening } from "./fresh-call.js";
import { helloFor } from "./hello.js";
import { drainBudgetMs } from "./fresh-messages.js";
import type { RepliedMessage, StartedMessage } from "./fresh-messages.js";
import { FreshProcess, parseChildEnv, processEnvironment, processExecArgv } from "./fresh-process.js";
import type { FreshProcessEvents, ProcessCommand } from "./fresh-process.js";
import { logCall, logProcess } from "./log.js";
import { HandlerOptionsError } from "./options.js";
import { handleProcessEvents } from "./process-events.js";
import type { ResolvedOptions } from "./options.js";
import { StatusPort } from "./status.js";
import type { FunctionServer, ServerState } from "./server.js";

/**
 * A process's own alarm answers at the call's deadline whenever its event
 * loop is free; the supervisor steps in this much later, so that it answers
 * only for a process that cannot (a loop held by CPU-bound code, a process
 * stuck in native code), and the process's own answer and log line win
 * otherwise.
 */
const OUTSIDE_LIMIT_MARGIN_MS = 500;
/** After the grace period, how long the last answers have to leave before every socket is reset. */
const FINAL_FLUSH_MS = 2_000;
/** Callers held while no process waits: far above any sane burst on one replica, far below its open files. */
const MAX_QUEUED_CALLERS = 1_000;
/** A process that fails to start is started again after this, doubling with each failure in a row up to the maximum. */
const RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 10_000;

/** The answer to a caller no process took within the queue timeout: it did not run, and may go to another replica. */
function busy(): WireError {
  return new FunkerError("unavailable", "the replica is busy; try another replica").toWire();
}

interface QueuedCaller {
  readonly call: FreshCall;
  readonly timer: NodeJS.Timeout;
}

/**
 * Fresh mode: the replica's long-lived process owns the port and serves no
 * call itself. It keeps `concurrency` processes of the function started;
 * each call goes to one that waits, which serves it and exits, and a
 * replacement starts when it has exited. A caller that finds none waiting
 * waits up to `queueTimeout`, then is refused with `unavailable` (the call
 * did not run, so its client tries another replica). The time limit is
 * enforced from outside: a process past its call's deadline is killed and
 * the caller answered `deadline_exceeded`; a process that dies answers
 * `handler_crashed`. Nothing a process does can take the supervisor down.
 */
export class FreshSupervisor implements FunctionServer {
  readonly ready: Promise<{ host: string; port: number }>;
  readonly closed: Promise<void>;
  private readonly listener: NetServer;
  private readonly processes = new Set<FreshProcess>();
  private readonly waiting: FreshProcess[] = [];
  private readonly queue: QueuedCaller[] = [];
  private readonly refusing = new Set<Socket>();
  private readonly calls = new Set<FreshCall>();
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  private readonly names: ReadonlySet<string> | undefined;
  private readonly readyFd: number | undefined;
  private readonly events: FreshProcessEvents;
  /** What the supervisor sends a caller before a process sees its call. */
  private readonly opening: FreshOpening;
  private command: ProcessCommand | undefined;
  private startFailuresInARow = 0;
  private everReady = false;
  private shuttingDown = false;
  private finished = false;
  private exitWhenFinished: boolean;
  private exitCode: number = ExitCode.done;
  private graceTimer: NodeJS.Timeout | undefined;
  private callsServed = 0;
  private lastError: { code: ErrorCode; message: string } | undefined;
  private resolveReady!: (address: { host: string; port: number }) => void;
  private rejectReady!: (error: Error) => void;
  private resolveClosed!: () => void;
  private readonly removeProcessHandlers: () => void;
  /** Notices when the supervisor runs out of descriptors, which Node does not report. */
  private readonly descriptorWatch: DescriptorWatch;
  private readonly statusPort: StatusPort | undefined;

  constructor(readonly options: ResolvedOptions) {
    if (!options.exit) {
      throw new HandlerOptionsError('mode "fresh" runs the program again for every call, so the process must be the function\'s own: option "exit" must be true');
    }
    const script = process.argv[1];
    if (script === undefined) throw new HandlerOptionsError('mode "fresh" runs the program file again for every call: run it as `node <file>`');
    const childEnv = parseChildEnv(options.childEnv);
    if ("problem" in childEnv) throw new HandlerOptionsError(`option "childEnv" (FUNKER_CHILD_ENV) must be a comma-separated list of variable names: ${childEnv.problem}`);
    this.names = childEnv.names;
    const readyFd = Number(process.env[READY_FD_VARIABLE]);
    this.readyFd = Number.isInteger(readyFd) && readyFd > 2 ? readyFd : undefined;
    delete process.env[READY_FD_VARIABLE];
    this.exitWhenFinished = options.exit;
    this.opening = { hello: helloFor(options), maxPayloadBytes: options.maxPayloadBytes };
    this.events = {
      ready: (child) => this.onReady(child),
      started: (child, message) => this.onStarted(child, message),
      replied: (child, message) => this.onReplied(child, message),
      exited: (child, code, signal) => this.onExited(child, code, signal),
    };
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // A caller that never awaits `ready` must not turn a start-up failure into an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // pauseOnConnect: a caller's bytes stay in the kernel until the supervisor reads them (or a refusal does).
    this.listener = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.onConnection(socket));
    this.listener.once("listening", () => {
      const address = this.listener.address() as AddressInfo;
      this.command = {
        script,
        args: process.argv.slice(2),
        execArgv: [...processExecArgv(process.execArgv), ...(Number.isFinite(options.heapLimitMb) ? [`--max-old-space-size=${options.heapLimitMb}`] : [])],
        environment: processEnvironment(process.env, this.names, { host: address.address, port: address.port }),
      };
      for (let slot = 0; slot < options.concurrency; slot += 1) this.startProcess();
    });
    this.listener.once("error", (error) => this.failStartup(`cannot listen on ${options.host}:${options.port}`, error));
    this.removeProcessHandlers = this.installProcessHandlers();
    this.descriptorWatch = new DescriptorWatch(
      () => shedAll(this.calls),
      () => `${this.calls.size + this.refusing.size} connections open, limit ${options.maxConnections}`,
      options.log,
    );
    this.listener.listen(options.port, options.host);
    this.statusPort = StatusPort.open(options, this.ready, () => ({
      stopping: this.shuttingDown,
      inFlight: this.state.inFlight,
      capacity: options.concurrency,
      free: this.shuttingDown ? 0 : this.waiting.length,
      callsServed: this.callsServed,
    }));
  }

  get state(): ServerState {
    let inFlight = 0;
    for (const child of this.processes) if (child.state === "serving" && !child.replied) inFlight += 1;
    const status = this.shuttingDown ? "closed" : this.waiting.length > 0 ? "idle" : "busy";
    const state: { -readonly [Key in keyof ServerState]: ServerState[Key] } = { status, inFlight, callsServed: this.callsServed };
    if (this.lastError !== undefined) state.lastError = this.lastError;
    return state;
  }

  close(): Promise<void> {
    this.exitWhenFinished = false;
    this.shutdown();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A call's log line and the state, for the calls the supervisor answers itself (refusals, dead and stopped processes). */
  record(record: CallRecord): void {
    if (record.served) this.callsServed += 1;
    if (record.error !== undefined) this.lastError = { code: record.error.code, message: record.error.message };
    this.statusPort?.record(record);
    if (this.options.log !== undefined) logCall(record, this.options.log);
  }

  private onConnection(socket: Socket): void {
    const acceptedAt = Date.now();
    // A caller that resets its connection while it waits must not become an uncaught error here.
    socket.on("error", () => undefined);
    if (!this.everReady) {
      // Until a first process waits the replica takes no call, as a single-shot or reuse replica that does not
      // listen yet: the caller, reset before any acceptance, goes to another replica knowing that nothing ran.
      // Queued instead, it would be accepted (fresh-call.ts) by a replica that may never serve it.
      socket.resetAndDestroy();
      return;
    }
    const { maxConnections } = this.options;
    if (this.calls.size + this.refusing.size >= maxConnections && !shedOne(this.calls)) {
      this.refuse(socket, `the replica has its limit of ${maxConnections} connections open, each with a call; try another replica`);
      return;
    }
    if (this.shuttingDown || (this.waiting.length === 0 && this.queue.length >= MAX_QUEUED_CALLERS)) {
      this.refuse(socket);
      return;
    }
    // From here the supervisor reads the caller and accepts it (fresh-call.ts), whether a process waits or not.
    const call = new FreshCall(socket, acceptedAt, (record) => this.record(record), this.opening);
    this.calls.add(call);
    void call.closed.then(() => {
      this.calls.delete(call);
      this.finishIfDone();
    });
    const waiting = this.waiting.shift();
    if (waiting !== undefined) {
      this.handOver(waiting, call);
      return;
    }
    const timer = setTimeout(() => {
      const index = this.queue.findIndex((queued) => queued.call === call);
      if (index < 0) return;
      this.queue.splice(index, 1);
      call.answer(busy(), true);
    }, this.options.queueTimeoutMs);
    this.queue.push({ call, timer });
  }

  private handOver(child: FreshProcess, call: FreshCall): void {
    child.serve(call);
    // Until the process says what the call's deadline is, the longest it could be: reading it, then running it.
    child.limitAt(call.timedFrom + this.options.readTimeoutMs + this.options.timeoutMs + OUTSIDE_LIMIT_MARGIN_MS, () => this.overran(child));
  }

  /**
   * `unavailable` to a caller no process can take: the call did not run, and
   * its client goes to another replica. At most `REFUSING_AT_ONCE` at a time;
   * past it, the connection is closed unanswered.
   */
  private refuse(socket: Socket, message?: string): void {
    refuseWithinBound(this.refusing, socket, this, message, () => this.finishIfDone());
    // Accepted paused: its first bytes tell the wire mode to answer in.
    socket.resume();
  }

  private startProcess(): void {
    if (this.shuttingDown || this.command === undefined) return;
    this.processes.add(new FreshProcess(this.command, this.events));
  }

  private onReady(child: FreshProcess): void {
    this.startFailuresInARow = 0;
    if (!this.everReady) {
      this.everReady = true;
      const address = this.listener.address() as AddressInfo;
      this.resolveReady({ host: address.address, port: address.port });
      this.announceReady();
    }
    if (this.shuttingDown) {
      child.stop();
      return;
    }
    for (let queued = this.queue.shift(); queued !== undefined; queued = this.queue.shift()) {
      clearTimeout(queued.timer);
      // A connection closed in the meantime costs nothing more.
      if (queued.call.gone) continue;
      this.handOver(child, queued.call);
      return;
    }
    this.waiting.push(child);
  }

  private onStarted(child: FreshProcess, message: StartedMessage): void {
    const call = child.call;
    if (call === undefined) return;
    call.started = message;
    const deadline = Math.min(message.deadline ?? Number.POSITIVE_INFINITY, call.timedFrom + this.options.timeoutMs);
    child.limitAt(deadline + OUTSIDE_LIMIT_MARGIN_MS, () => this.overran(child));
  }

  private onReplied(child: FreshProcess, message: RepliedMessage): void {
    child.call?.markReplied();
    if (child.call !== undefined) this.statusPort?.metrics.observe(Date.now() - child.call.acceptedAt, message.errorCode);
    if (message.served) this.callsServed += 1;
    if (message.errorCode !== undefined) this.lastError = { code: message.errorCode as ErrorCode, message: message.errorMessage ?? "" };
    const budgetMs = drainBudgetMs(this.options);
    child.limitAt(Date.now() + budgetMs + OUTSIDE_LIMIT_MARGIN_MS, () => {
      child.kill();
      logProcess("error", `a process was still running ${budgetMs} ms after its call's reply; it was stopped`, "drain budget spent", this.options.log);
    });
  }

  /** The call's time limit passed and its process has not answered: it cannot, so it is stopped and the caller answered. */
  private overran(child: FreshProcess): void {
    if (child.replied) return;
    child.kill();
    const call = child.call;
    if (call === undefined) return;
    const limit =
      call.started?.deadline !== undefined && call.started.deadline !== null && call.started.deadline < call.timedFrom + this.options.timeoutMs
        ? "the caller's deadline"
        : `timeout of ${this.options.timeoutMs} ms`;
    call.answer(new FunkerError("deadline_exceeded", `the call passed its deadline (${limit}); the process running it was stopped`).toWire(), false);
  }

  private onExited(child: FreshProcess, code: number | null, signal: NodeJS.Signals | null): void {
    this.processes.delete(child);
    const index = this.waiting.indexOf(child);
    if (index >= 0) this.waiting.splice(index, 1);
    if (child.state === "serving") child.call?.processExited(code, signal);
    if (this.shuttingDown) {
      this.finishIfDone();
      return;
    }
    if (child.state !== "starting") {
      this.startProcess();
      return;
    }
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (!this.everReady) {
      // The function cannot start here at all (its module throws, its settings are wrong, its heap limit is too low):
      // the replica fails as a single-shot one would, for its orchestrator to see.
      this.failStartup("cannot start the function's processes", new Error(`the function's process ${how} before it was ready`));
      return;
    }
    this.startFailuresInARow += 1;
    const delayMs = Math.min(RESTART_DELAY_MS * 2 ** (this.startFailuresInARow - 1), MAX_RESTART_DELAY_MS);
    logProcess("error", `a process ${how} before it was ready; another starts in ${delayMs} ms`, `failure ${this.startFailuresInARow} in a row`, this.options.log);
    const timer = setTimeout(() => {
      this.restartTimers.delete(timer);
      this.startProcess();
    }, delayMs);
    this.restartTimers.add(timer);
  }

  /** The replica cannot serve at all: it says why and exits 1 at once, as a single-shot replica does (no call was taken). */
  private failStartup(message: string, error: Error): void {
    logProcess("fatal", message, error, this.options.log);
    this.rejectReady(error);
    for (const child of this.processes) child.kill();
    if (this.exitWhenFinished) process.exit(ExitCode.startupFailed);
    this.shutdown(ExitCode.startupFailed);
  }

  /** Tells the tool that started the replica (`READY_FD_VARIABLE`) that it takes calls. */
  private announceReady(): void {
    if (this.readyFd === undefined) return;
    try {
      writeSync(this.readyFd, READY_LINE);
    } catch {
      // A tool that closed its end no longer waits for the line.
    }
  }

  /** Stops taking calls, lets the calls in progress finish within the grace period, then resolves (or exits). */
  private shutdown(exitCode?: number): void {
    if (exitCode !== undefined) this.exitCode = Math.max(this.exitCode, exitCode);
    if (this.shuttingDown) {
      this.finishIfDone();
      return;
    }
    this.shuttingDown = true;
    this.listener.close();
    for (const queued of this.queue.splice(0)) {
      clearTimeout(queued.timer);
      queued.call.answer(busy(), true);
    }
    for (const timer of this.restartTimers) clearTimeout(timer);
    this.restartTimers.clear();
    this.waiting.length = 0;
    for (const child of this.processes) if (child.state !== "serving") child.stop();
    this.graceTimer = setTimeout(() => this.onGraceExpired(), this.options.gracePeriodMs);
    this.graceTimer.unref();
    this.finishIfDone();
  }

  private onGraceExpired(): void {
    const reason = new FunkerError("handler_crashed", `the replica stopped before the call finished (grace period of ${this.options.gracePeriodMs} ms)`).toWire();
    for (const child of this.processes) {
      child.kill();
      child.call?.answer(reason, false);
    }
    const flush = setTimeout(() => {
      for (const socket of this.refusing) socket.destroy();
      this.finish();
    }, FINAL_FLUSH_MS);
    flush.unref();
  }

  private finishIfDone(): void {
    if (this.shuttingDown && this.processes.size === 0 && this.refusing.size === 0 && this.calls.size === 0) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.graceTimer);
    this.descriptorWatch.stop();
    this.listener.close();
    this.statusPort?.close();
    this.removeProcessHandlers();
    this.resolveClosed();
    if (this.exitWhenFinished) process.exit(this.exitCode);
  }

  /**
   * SIGTERM and SIGINT stop the replica gracefully. A fault of the
   * supervisor's own (code of the function's module that runs here too, such
   * as a timer it set at load) is reported, and the replica stops with 70
   * once the calls in progress are answered.
   */
  private installProcessHandlers(): () => void {
    return handleProcessEvents(
      () => this.shutdown(ExitCode.done),
      (error) => {
        logProcess("fatal", "uncaught exception in the supervisor", error, this.options.log);
        this.shutdown(ExitCode.uncaughtFault);
      },
    );
  }
}
