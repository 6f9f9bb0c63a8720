import { Socket } from "node:net";
import { Duplex } from "node:stream";
import { FunkerError, PREFACE, encodeCall } from "@funker/protocol";
import type { ErrorCode } from "@funker/protocol";
import type { CallRecord } from "./call-record.js";
import type { Connection } from "./connection.js";
import { serveConnection } from "./connection.js";
import type { CallDescription } from "./context.js";
import { ExitCode } from "./contract.js";
import { CALL_PIPE_FD, FRESH_CHILD_VARIABLE, drainBudgetMs } from "./fresh-messages.js";
import type { FromProcess, SupervisorAddress, ToProcess } from "./fresh-messages.js";
import { CallAuthenticator } from "./auth.js";
import { Drain } from "./drain.js";
import type { ConnectionHost } from "./host.js";
import type { AnyHandlerFunction } from "./invoke.js";
import { logCall, logProcess } from "./log.js";
import type { ResolvedOptions } from "./options.js";
import { handleProcessEvents } from "./process-events.js";
import type { FunctionServer, ServerState } from "./server.js";

/**
 * A fresh-mode process, as the function's own `handler()` becomes in a
 * process its supervisor forked: it waits for one call on its call pipe,
 * serves it with the handler's connection code (both wire modes, heartbeats,
 * cancel, the abort signal, typed errors, its own log line), tells the
 * supervisor what it needs to answer for the process should it die, and
 * exits once the event loop drains.
 */
export class FreshChild implements ConnectionHost, FunctionServer {
  readonly ready: Promise<{ host: string; port: number }>;
  readonly closed: Promise<void>;
  private readonly pipe: Socket;
  private connection: Connection | undefined;
  private callStarted = false;
  private callEnded = false;
  private callsServed = 0;
  private lastError: { code: ErrorCode; message: string } | undefined;
  private exitCode: number = ExitCode.done;
  private resolveClosed!: () => void;
  /** Its supervisor accepted the caller before handing the call over (fresh-call.ts). */
  readonly acceptedForIt = true;
  /** Each process has its own replay window, empty at its start (PROTOCOL.md 6.8). */
  readonly authenticator: CallAuthenticator | undefined;

  constructor(
    readonly fn: AnyHandlerFunction,
    readonly options: ResolvedOptions,
    address: SupervisorAddress,
  ) {
    // The function sees the environment its replica would, without the supervisor's marker.
    delete process.env[FRESH_CHILD_VARIABLE];
    this.authenticator = options.keys === undefined ? undefined : new CallAuthenticator(options.keys, options.secretSkewMs, options.replayWindow);
    this.ready = Promise.resolve({ host: address.host, port: address.port });
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // Read only once the call arrives: the bytes wait in the pipe until then.
    this.pipe = new Socket({ fd: CALL_PIPE_FD, readable: true, writable: true, allowHalfOpen: true });
    this.pipe.pause();
    this.pipe.on("error", () => undefined);
    process.on("message", this.onMessage);
    process.once("disconnect", this.onDisconnect);
    handleProcessEvents(this.onSignal, this.onFault);
    void warmUp(options).then(() => this.send({ type: "ready" }));
  }

  get state(): ServerState {
    const status = this.callEnded ? "closed" : this.connection === undefined ? "idle" : "busy";
    const state: { -readonly [Key in keyof ServerState]: ServerState[Key] } = { status, inFlight: this.callStarted && !this.callEnded ? 1 : 0, callsServed: this.callsServed };
    if (this.lastError !== undefined) state.lastError = this.lastError;
    return state;
  }

  /** Waiting: takes no call and lets the process end. Serving: the call finishes first. */
  close(): Promise<void> {
    if (this.connection === undefined) this.onCallClosed();
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ConnectionHost

  tryStartCall(call: CallDescription): boolean {
    if (this.callStarted) return false;
    this.callStarted = true;
    this.send({
      type: "started",
      id: call.id,
      functionName: call.functionName,
      protocol: call.protocol,
      deadline: Number.isFinite(call.deadline) ? call.deadline : null,
    });
    return true;
  }

  /** The process is the slot: it is given back when the process exits. */
  endCall(): void {}

  record(record: CallRecord): void {
    if (record.served) this.callsServed += 1;
    if (record.error !== undefined) this.lastError = { code: record.error.code, message: record.error.message };
    if (this.options.log !== undefined) logCall(record, this.options.log);
    this.send({ type: "replied", served: record.served, errorCode: record.error?.code, errorMessage: record.error?.message });
  }

  mayKeepConnection(): boolean {
    return false;
  }

  private readonly onMessage = (message: ToProcess): void => {
    if (message.type === "gone") {
      this.connection?.abortCall(new FunkerError("cancelled", "the caller disconnected"));
      return;
    }
    if (message.type !== "call" || this.connection !== undefined || this.callEnded) return;
    const connection = serveConnection(this.pipe, this, message.acceptedAt);
    this.connection = connection;
    this.pipe.resume();
    void connection.closed.then(() => this.onCallClosed());
  };

  /**
   * The call is over: the process lets go of its supervisor and ends when
   * nothing of the function's is left running, or at the drain budget.
   */
  private onCallClosed(): void {
    if (this.callEnded) return;
    this.callEnded = true;
    process.off("message", this.onMessage);
    this.pipe.destroy();
    if (process.connected) process.disconnect();
    this.resolveClosed();
    if (this.exitCode !== ExitCode.done) process.exit(this.exitCode);
    new Drain(drainBudgetMs(this.options), ExitCode.done, this.options.log);
  }

  /** The supervisor is gone: a waiting process has nothing more to do. A call in progress ends with its pipe. */
  private readonly onDisconnect = (): void => {
    if (this.connection === undefined && !this.callEnded) process.exit(ExitCode.done);
  };

  /** SIGTERM or SIGINT: a waiting or finished process exits at once; a call in progress is finished, within the supervisor's grace period. */
  private readonly onSignal = (): void => {
    if (this.connection === undefined || this.callEnded) process.exit(ExitCode.done);
  };

  private readonly onFault = (error: unknown): void => {
    logProcess("fatal", "uncaught exception", error, this.options.log);
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.lastError = { code: "handler_crashed", message };
    this.exitCode = ExitCode.uncaughtFault;
    if (this.connection === undefined || this.callEnded) process.exit(this.exitCode);
    // The call in progress is almost certainly the culprit: answer it now, then exit.
    this.connection.abortCall(new FunkerError("handler_crashed", `the function raised an uncaught exception: ${message}`));
  };

  private send(message: FromProcess): void {
    // A supervisor that is gone cannot be told; the process ends with its pipe.
    if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
  }
}

/**
 * Runs the handler's own code for one framed call once, in memory, before
 * the process says it waits: a synthetic caller, and a function that is not
 * the author's (it returns null), with no log line. Code that has run once
 * is compiled; the caller's call then does not pay for it. Nothing of the
 * function's runs, and no caller is involved.
 */
function warmUp(options: ResolvedOptions): Promise<void> {
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, done) {
      done();
    },
    final(done) {
      this.push(null);
      done();
    },
  });
  const host: ConnectionHost = {
    options: { ...options, log: undefined, name: undefined, schema: undefined },
    fn: () => null,
    authenticator: undefined,
    tryStartCall: () => true,
    endCall: () => undefined,
    record: () => undefined,
    mayKeepConnection: () => false,
  };
  const connection = serveConnection(socket as unknown as Socket, host);
  socket.push(Buffer.concat([PREFACE, encodeCall({ id: "warm-up", function: "warm-up", deadline: Date.now() + 60_000 }, { warm: true })]));
  return connection.closed;
}
