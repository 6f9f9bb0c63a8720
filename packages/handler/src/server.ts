import { createServer } from "node:net";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { FunkerError } from "@funker/protocol";
import type { ErrorCode } from "@funker/protocol";
import { refuseWithinBound } from "./busy.js";
import type { CallRecord } from "./call-record.js";
import type { Connection } from "./connection.js";
import { serveConnection } from "./connection.js";
import { Drain, pendingWork } from "./drain.js";
import { CallAuthenticator } from "./auth.js";
import type { CallDescription } from "./context.js";
import { DescriptorWatch, shedAll, shedOne } from "./descriptors.js";
import type { ConnectionHost } from "./host.js";
import type { HardTimeout } from "./hard-timeout.js";
import { hardTimeoutFor } from "./hard-timeout.js";
import { ExitCode } from "./contract.js";
import type { AnyHandlerFunction } from "./invoke.js";
import { logCall, logProcess } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import { StatusPort } from "./status.js";

/** After the grace period, how long the last replies have to leave before every socket is reset. */
const FINAL_FLUSH_MS = 2_000;

/** A cheap, read-only snapshot of what the replica is doing (for a status endpoint or an autoscaler). */
export interface ServerState {
  /** `idle`: ready for a call; `busy`: a call is running (in single-shot mode: the one connection is being served); `closed`: taking no more calls. */
  readonly status: "idle" | "busy" | "closed";
  /** Calls whose function runs now: each holds a slot, also once answered early while its function ignores its signal. */
  readonly inFlight: number;
  /** Calls that ran to a reply (result or error), since start. */
  readonly callsServed: number;
  /** The latest failure: of a call, or of the process. */
  readonly lastError?: { readonly code: ErrorCode; readonly message: string };
}

/** A function being served. `handler()` starts listening at once. */
export interface FunctionServer extends AsyncDisposable {
  /** Resolves with the bound address once listening (so `port: 0` tells the port); rejects when the port cannot be bound. */
  readonly ready: Promise<{ host: string; port: number }>;
  /** Resolves once the server has stopped: its single call served, `maxCalls` reached, a signal, or `close()`. */
  readonly closed: Promise<void>;
  readonly state: ServerState;
  /**
   * Stops taking calls, lets calls already accepted finish (within the grace
   * period), then resolves. Never exits the process.
   */
  close(): Promise<void>;
}

export class Server implements ConnectionHost, FunctionServer {
  readonly ready: Promise<{ host: string; port: number }>;
  readonly closed: Promise<void>;
  private readonly listener: NetServer;
  private readonly connections = new Set<Connection>();
  private readonly busySockets = new Set<Socket>();
  /** Slots held: calls whose function's work is not over, answered or not. */
  private inFlight = 0;
  /** Calls whose function outlived `drainTimeout` after they ended: the replica recycles itself and waits no more for them. */
  private readonly overran = new Set<CallDescription>();
  /** The grace period of a shutdown has passed: bodies still running are waited for no more. */
  private graceExpired = false;
  private callsStarted = 0;
  private callsServed = 0;
  private lastError: { code: ErrorCode; message: string } | undefined;
  private servingSingleShot = false;
  private shuttingDown = false;
  private finished = false;
  private exitWhenFinished: boolean;
  private exitCode: number = ExitCode.done;
  private graceTimer: NodeJS.Timeout | undefined;
  /** Single-shot, after the reply: the process ends when the function's work does (see `Drain`). */
  private drain: Drain | undefined;
  /** When SIGTERM or SIGINT arrived: the grace period counts from there, a drain included. */
  private stopSignalledAt: number | undefined;
  private resolveClosed!: () => void;
  private readonly removeProcessHandlers: () => void;
  /** Reuse mode: notices when the process runs out of descriptors, which Node does not report. */
  private readonly descriptorWatch: DescriptorWatch | undefined;
  readonly authenticator: CallAuthenticator | undefined;
  private readonly statusPort: StatusPort | undefined;
  readonly hardTimeout: HardTimeout | undefined;

  constructor(
    readonly fn: AnyHandlerFunction,
    readonly options: ResolvedOptions,
  ) {
    this.exitWhenFinished = options.exit;
    this.authenticator = options.keys === undefined ? undefined : new CallAuthenticator(options.keys, options.secretSkewMs, options.replayWindow);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.listener = createServer(
      // allowHalfOpen: a legacy caller half-closes to say "that was all", and still waits for the reply.
      // TCP keepalive is set per call where it matters (see Connection), not for every accepted socket.
      { allowHalfOpen: true, noDelay: true },
      (socket) => this.onConnection(socket),
    );
    this.ready = new Promise((resolve, reject) => {
      this.listener.once("listening", () => {
        const address = this.listener.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
      this.listener.once("error", (error) => {
        reject(error);
        if (this.exitWhenFinished) {
          logProcess("fatal", `cannot listen on ${options.host}:${options.port}`, error, options.log);
          process.exit(ExitCode.startupFailed);
        }
        this.finish();
      });
    });
    // A caller that never awaits `ready` must not turn a bind failure into an unhandled rejection.
    this.ready.catch(() => undefined);
    // Started with the replica (reuse mode's thread), so that no call waits for it.
    this.hardTimeout = options.hardTimeout && options.mode !== "fresh" ? hardTimeoutFor(options.mode) : undefined;
    this.removeProcessHandlers = options.exit ? this.installProcessHandlers() : () => undefined;
    this.descriptorWatch =
      options.mode === "single-shot"
        ? undefined
        : new DescriptorWatch(
            () => shedAll(this.connections),
            () => `${this.connections.size + this.busySockets.size} connections open, limit ${options.maxConnections}`,
            options.log,
          );
    this.listener.listen(options.port, options.host);
    const capacity = options.mode === "single-shot" ? 1 : options.concurrency;
    this.statusPort = StatusPort.open(options, this.ready, () => ({
      stopping: this.shuttingDown || this.servingSingleShot,
      inFlight: this.inFlight,
      capacity,
      free: this.shuttingDown || this.servingSingleShot ? 0 : Math.min(capacity - this.inFlight, options.maxCalls - this.callsStarted),
      callsServed: this.callsServed,
    }));
  }

  get state(): ServerState {
    const status = this.inFlight > 0 || (this.servingSingleShot && !this.finished) ? "busy" : this.shuttingDown ? "closed" : "idle";
    const state: { -readonly [Key in keyof ServerState]: ServerState[Key] } = { status, inFlight: this.inFlight, callsServed: this.callsServed };
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

  tryStartCall(): boolean {
    if (this.inFlight >= this.options.concurrency || this.callsStarted >= this.options.maxCalls) return false;
    this.inFlight += 1;
    this.callsStarted += 1;
    if (this.callsStarted >= this.options.maxCalls) this.shutdown();
    return true;
  }

  endCall(call: CallDescription): void {
    this.inFlight -= 1;
    this.overran.delete(call);
    this.finishIfDone();
  }

  /**
   * A function ignored its abort signal for `drainTimeout` after its call was
   * answered. Its slot stays taken, so the replica would serve with one fewer
   * for ever: it recycles itself instead (no new calls, the others finish
   * within the grace period, exit 75), and an orchestrator starts a fresh one.
   */
  bodyOverran(call: CallDescription, reason: unknown): void {
    this.overran.add(call);
    const why = reason instanceof FunkerError ? reason.code : "ended";
    logProcess(
      "error",
      `the function of call ${call.id} was still running ${this.options.drainTimeoutMs} ms after its call ended (${why}); the replica takes no more calls and ${this.options.exit ? `exits ${ExitCode.recycled}` : "closes"}`,
      pendingWork(),
      this.options.log,
    );
    this.shutdown(ExitCode.recycled);
  }

  record(record: CallRecord): void {
    if (record.served) this.callsServed += 1;
    if (record.error !== undefined) this.lastError = { code: record.error.code, message: record.error.message };
    this.statusPort?.record(record);
    if (this.options.log !== undefined) logCall(record, this.options.log);
  }

  mayKeepConnection(): boolean {
    return this.options.mode === "reuse" && !this.shuttingDown;
  }

  private onConnection(socket: Socket): void {
    const single = this.options.mode === "single-shot";
    const { maxConnections } = this.options;
    if (!single && this.connections.size + this.busySockets.size >= maxConnections && !shedOne(this.connections)) {
      this.refuse(socket, `the replica has its limit of ${maxConnections} connections open, each with a call; try another replica`);
      return;
    }
    if (this.shuttingDown || this.servingSingleShot || (!single && this.inFlight >= this.options.concurrency)) {
      this.refuse(socket);
      return;
    }
    if (single) {
      // As the 2017 Go handler did: from now on every other caller is refused at once, and moves on.
      this.servingSingleShot = true;
      this.listener.close();
    }
    const connection = serveConnection(socket, this);
    this.connections.add(connection);
    void connection.closed.then(() => {
      this.connections.delete(connection);
      if (single) this.endSingleCall();
      else this.finishIfDone();
    });
  }

  /** The single call is answered: the replica takes no other, and finishes (no grace period: nobody asked it to stop). */
  private endSingleCall(): void {
    this.shuttingDown = true;
    this.finishIfDone();
  }

  /** Answers `unavailable` (the call did not run): at most `REFUSING_AT_ONCE` at a time, past which the connection is closed unanswered. */
  private refuse(socket: Socket, message?: string): void {
    refuseWithinBound(this.busySockets, socket, this, message, () => this.finishIfDone());
  }

  /** Stops accepting; closes idle kept connections; finishes once accepted calls are answered. */
  private shutdown(exitCode?: number): void {
    if (exitCode !== undefined) this.exitCode = Math.max(this.exitCode, exitCode);
    if (this.shuttingDown) {
      this.finishIfDone();
      return;
    }
    this.shuttingDown = true;
    this.listener.close();
    for (const connection of this.connections) connection.closeIfIdle();
    this.graceTimer = setTimeout(() => this.onGraceExpired(), this.options.gracePeriodMs);
    this.graceTimer.unref();
    this.finishIfDone();
  }

  private onGraceExpired(): void {
    this.graceExpired = true;
    const reason = new FunkerError("handler_crashed", `the replica stopped before the call finished (grace period of ${this.options.gracePeriodMs} ms)`);
    for (const connection of this.connections) connection.abortCall(reason);
    const flush = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
      for (const socket of this.busySockets) socket.destroy();
    }, FINAL_FLUSH_MS);
    flush.unref();
    this.finishIfDone();
  }

  /**
   * Finished once every accepted call is answered and every function's work
   * is over: a slot is held until its body returns. Not waited for: bodies
   * past the grace period or `drainTimeout`, and any after an uncaught
   * exception (the process is suspect, and ends now).
   */
  private finishIfDone(): void {
    if (!this.shuttingDown || this.connections.size > 0 || this.busySockets.size > 0) return;
    if (this.inFlight > this.overran.size && !this.graceExpired && this.exitCode !== ExitCode.uncaughtFault) return;
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.shuttingDown = true;
    clearTimeout(this.graceTimer);
    const running = this.inFlight - this.overran.size;
    if (this.graceExpired && running > 0) {
      logProcess("error", `${running} function call(s) still running at the end of the grace period (${this.options.gracePeriodMs} ms)`, pendingWork(), this.options.log);
    }
    this.descriptorWatch?.stop();
    this.hardTimeout?.close();
    this.listener.close();
    this.statusPort?.close();
    this.resolveClosed();
    if (!this.exitWhenFinished) {
      this.removeProcessHandlers();
      return;
    }
    if (this.options.mode === "single-shot" && this.exitCode === ExitCode.done && !this.graceExpired) {
      // As the 2017 library did: the process ends when the function's work
      // does, so work it left running after its reply completes. The process
      // handlers stay: a fault in that work still exits 70, a signal bounds it.
      this.drain = new Drain(this.options.drainTimeoutMs, this.exitCode, this.options.log);
      if (this.stopSignalledAt !== undefined) this.drain.limit(Math.max(0, this.stopSignalledAt + this.options.gracePeriodMs - Date.now()));
      return;
    }
    process.exit(this.exitCode);
  }

  /**
   * Signals and faults, only when the server owns the process (`exit`):
   * SIGTERM and SIGINT stop the replica gracefully (and give Node running as
   * PID 1 in a container a signal handler at all); an uncaught exception or
   * unhandled rejection is reported, and the process exits 70 once accepted
   * calls are answered.
   */
  private installProcessHandlers(): () => void {
    const onSignal = (): void => {
      this.stopSignalledAt ??= Date.now();
      if (this.drain !== undefined) this.drain.limit(this.options.gracePeriodMs);
      else this.shutdown(ExitCode.done);
    };
    const onFault = (error: unknown): void => {
      logProcess("fatal", "uncaught exception", error, this.options.log);
      // Work left running after the reply failed: the call was answered, the process is suspect.
      if (this.drain !== undefined) process.exit(ExitCode.uncaughtFault);
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      this.lastError = { code: "handler_crashed", message };
      if (this.options.mode === "single-shot") {
        // The one call in progress is almost certainly the culprit: answer it now.
        const reason = new FunkerError("handler_crashed", `the function raised an uncaught exception: ${message}`);
        for (const connection of this.connections) connection.abortCall(reason);
      }
      this.shutdown(ExitCode.uncaughtFault);
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    process.on("uncaughtException", onFault);
    process.on("unhandledRejection", onFault);
    return () => {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
      process.off("uncaughtException", onFault);
      process.off("unhandledRejection", onFault);
    };
  }
}
