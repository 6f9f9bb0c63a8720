import type { Socket } from "node:net";
import { FrameDecoder, FunkerError, detectWireMode, encodeError, encodeHeartbeat, encodeLegacyError, hasLegacyMark, withLegacyMark } from "@funker/protocol";
import type { ProtocolVersion, WireError, WireMode } from "@funker/protocol";
import type { CallRecord } from "./call-record.js";
import type { StartedMessage } from "./fresh-messages.js";
import { LINGER_MS } from "./linger.js";

/** What a supervisor tells a caller before any process sees its call. */
export interface FreshOpening {
  /** The replica's HELLO, for a version 2 caller. */
  readonly hello: Uint8Array;
  readonly maxPayloadBytes: number;
}

/**
 * The caller's bytes a supervisor holds while no process has the call yet:
 * a call's worth (the largest arguments and their frame). Beyond it, reading
 * stops until a process takes the call, and the kernel holds the rest.
 */
const HEAD_ROOM_BYTES = 64 * 1024;

/**
 * How long a queued caller waits for its acceptance when no process is free.
 * Accepting only once a process takes the call means that a replica killed
 * while the caller waits leaves it unaccepted, so its call goes elsewhere
 * instead of coming back "may have run"; but a version 2 caller that hears
 * no HELLO within its `helloTimeout` (1 s by default) takes the replica for a
 * 2017 one, so a longer wait is accepted at this point, well before that.
 */
export const ACCEPT_WHILE_QUEUED_MS = 250;

/**
 * A caller's connection as a fresh-mode supervisor holds it, from accept:
 * it reads the caller's opening and sends the acceptance itself (the HELLO
 * to a version 2 caller once the preface is in, the first heartbeat to a
 * version 1 caller once its CALL is whole) as a process takes the call, and
 * before that process can see it (a queued caller: see
 * `ACCEPT_WHILE_QUEUED_MS`). A caller then never meets a call that ran on a connection that
 * ended before its acceptance (PROTOCOL.md 6.4), whatever dies when. Once a
 * process takes the call, the bytes are copied both ways with back-pressure;
 * the process writes the reply and its log line, and the supervisor answers
 * (and logs) the call itself only when the process cannot: it died, or it
 * was stopped at the call's time limit.
 */
export class FreshCall {
  /**
   * When the call's time limits start: its hand-over to a process (set by
   * `FreshProcess.serve`), else its accept. The wait
   * in the queue is bounded by `queueTimeout` on its own, and is not the
   * function's time (the caller's own deadline still counts from its start).
   */
  timedFrom: number;
  /** Set from the process's `started` message: the call was read and its function is about to run. */
  started: StartedMessage | undefined;
  private mode: WireMode | undefined;
  private version: ProtocolVersion | undefined;
  /** A version 1 call's id, read for its acceptance. */
  private callId = "";
  private legacyMarked = false;
  /** pending: the opening is not read yet; due: read, and held back until a process takes the call (or the wait ends). */
  private acceptance: "pending" | "due" | "sent" | "none" = "pending";
  private acceptanceBytes: Uint8Array | undefined;
  private acceptanceTimer: NodeJS.Timeout | undefined;
  private opening: FrameDecoder | undefined;
  private held: Buffer[] = [];
  private heldBytes = 0;
  private pipe: Socket | undefined;
  private onCallerGone: (() => void) | undefined;
  private callerEnded = false;
  private pipeEnded = false;
  private processReplied = false;
  private processEnded = false;
  private settled = false;
  private callerGone = false;
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly socket: Socket,
    readonly acceptedAt: number,
    private readonly record: (record: CallRecord) => void,
    private readonly settings: FreshOpening,
  ) {
    this.timedFrom = acceptedAt;
    this.closedPromise = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => this.onCallerData(chunk));
    // A 2017 caller half-closes to say "that was all": the process must see it too, after the bytes before it.
    socket.on("end", () => {
      this.callerEnded = true;
      if (this.acceptance === "pending") this.acceptance = "none";
      this.flush();
    });
    socket.once("close", () => {
      this.callerGone = true;
      clearTimeout(this.acceptanceTimer);
      if (this.pipe === undefined) return;
      if (!this.settled) this.onCallerGone?.();
      // The process may still write its reply: read it to the end, so that it finishes as it would on TCP.
      this.pipe.resume();
      this.pipe.end();
    });
    socket.resume();
  }

  /** Resolves once the caller's socket has closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** No byte has come since the caller was accepted (whether or not a process waits for its call). */
  get silent(): boolean {
    return this.mode === undefined && !this.callerGone;
  }

  /** Fresh-mode connections carry one call each: none waits between calls. */
  get idleBetweenCalls(): boolean {
    return false;
  }

  /**
   * Closes a silent caller's connection to make room (see `shedOne`): it has
   * sent nothing to answer, and a process waiting for its call sees the
   * caller leave, ends, and is replaced.
   */
  shed(): void {
    this.socket.destroy();
  }

  /** Whether the caller left before any process took the call. */
  get gone(): boolean {
    return this.callerGone || this.socket.destroyed;
  }

  /**
   * Joins the caller to a process's call pipe. `onCallerGone` runs when the
   * caller's connection closes before the call was answered, so that the
   * process can abort the call as it would on a TCP connection of its own.
   */
  attach(pipe: Socket, onCallerGone: () => void): void {
    const socket = this.socket;
    this.pipe = pipe;
    this.onCallerGone = onCallerGone;
    pipe.on("error", () => undefined);
    pipe.on("drain", () => socket.resume());
    pipe.on("data", (chunk: Buffer) => {
      if (!this.settled && !this.callerGone && !socket.write(chunk)) pipe.pause();
    });
    socket.on("drain", () => pipe.resume());
    pipe.on("end", () => {
      this.processEnded = true;
      this.finishIfReplied();
    });
    if (this.callerGone) {
      onCallerGone();
      pipe.end();
      return;
    }
    this.sendAcceptance();
    this.flush();
    socket.resume();
  }

  private onCallerData(chunk: Buffer): void {
    this.mode ??= detectWireMode(chunk);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.acceptance === "pending") this.readOpening(chunk);
    this.flush();
    if (this.pipe === undefined && this.heldBytes > this.settings.maxPayloadBytes + HEAD_ROOM_BYTES) this.socket.pause();
  }

  /** Reads the caller's opening far enough to accept the connection in its protocol (PROTOCOL.md 6.4). */
  private readOpening(chunk: Buffer): void {
    if (this.mode === "legacy") {
      // A 2017 caller has no acceptance; a Funker client's marked one learns from the reply's mark.
      this.legacyMarked ||= hasLegacyMark(chunk);
      this.acceptance = "none";
      return;
    }
    this.opening ??= new FrameDecoder({ expectPreface: true, maxPayloadBytes: this.settings.maxPayloadBytes });
    let call: { id: string } | undefined;
    try {
      call = this.opening.push(chunk).find((frame) => frame.type === "call");
    } catch {
      // Bytes the process will refuse with the reason: no call runs. The version, if the preface
      // was read, says how the supervisor answers should the process not; and a version 2 caller
      // reads the HELLO before that refusal, as from a process of any other mode (PROTOCOL.md 11).
      this.version = this.opening.version;
      this.opening = undefined;
      if (this.version === 2) this.acceptLater(this.settings.hello);
      else this.acceptance = "none";
      return;
    }
    this.version = this.opening.version;
    if (this.version === 2) {
      this.acceptLater(this.settings.hello);
    } else if (this.version === 1 && call !== undefined) {
      this.callId = call.id;
      this.acceptLater(encodeHeartbeat(call.id, { version: 1 }));
    } else return;
    this.opening = undefined;
  }

  /** The acceptance is due: sent now if a process has the call, else once the caller has waited long enough. */
  private acceptLater(bytes: Uint8Array): void {
    this.acceptanceBytes = bytes;
    this.acceptance = "due";
    if (this.pipe !== undefined) this.sendAcceptance();
    else this.acceptanceTimer = setTimeout(() => this.sendAcceptance(), ACCEPT_WHILE_QUEUED_MS);
  }

  /** Accepts the caller, if its acceptance is due: a process has the call now, or the caller has waited long enough. */
  private sendAcceptance(): void {
    if (this.acceptance !== "due" || this.acceptanceBytes === undefined) return;
    clearTimeout(this.acceptanceTimer);
    this.send(this.acceptanceBytes);
    this.acceptance = "sent";
    this.acceptanceBytes = undefined;
    this.flush();
  }

  private send(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Hands what the caller sent to the process, once there is one and the caller was accepted. */
  private flush(): void {
    const pipe = this.pipe;
    if (pipe === undefined || this.acceptance === "pending" || this.acceptance === "due" || this.settled) return;
    for (const chunk of this.held) if (!pipe.write(chunk)) this.socket.pause();
    this.held = [];
    this.heldBytes = 0;
    if (this.callerEnded && !this.pipeEnded) {
      this.pipeEnded = true;
      pipe.end();
    }
  }

  /** The process says it wrote its reply and logged the call. */
  markReplied(): void {
    this.processReplied = true;
    this.finishIfReplied();
  }

  /** Whether the process answered the call (so the supervisor must not). */
  get replied(): boolean {
    return this.processReplied;
  }

  /**
   * The process exited. Without a reply of its own, the caller gets one
   * from the supervisor: `handler_crashed` once the call had started (it may
   * have run), else a refused `unavailable` (it certainly did not).
   */
  processExited(code: number | null, signal: NodeJS.Signals | null): void {
    // A reply's last bytes may still be in the pipe, which then ends the call (see `attach`).
    if (this.processReplied) return;
    const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    if (this.started === undefined) {
      this.answer(new FunkerError("unavailable", `the process chosen for the call ${how} before it read the call; try another replica`).toWire(), true);
    } else {
      this.answer(new FunkerError("handler_crashed", `the process serving the call ${how} before it replied`).toWire(), false);
    }
  }

  /**
   * Answers the call with `error` in the caller's wire mode, logs it, and
   * stops copying the process's bytes. Nothing is answered once the process
   * has replied, or to a caller that is gone.
   */
  answer(error: WireError, refused: boolean): void {
    if (this.settled || this.processReplied) return;
    this.settled = true;
    this.pipe?.destroy();
    const protocol = this.started?.protocol ?? this.mode;
    const id = this.started?.id ?? this.callId;
    this.record({
      id,
      functionName: this.started?.functionName,
      protocol,
      durationMs: Date.now() - this.acceptedAt,
      error,
      served: this.started !== undefined,
    });
    if (this.callerGone || this.socket.destroyed) {
      clearTimeout(this.acceptanceTimer);
      return;
    }
    if (protocol === undefined || (protocol === "framed" && this.version === undefined)) {
      // Nothing the caller sent says how to answer it, and no call ran: it may safely go elsewhere.
      this.socket.destroy();
      return;
    }
    if (protocol === "legacy") {
      const reply = encodeLegacyError(error);
      this.end(this.legacyMarked ? withLegacyMark(reply) : reply);
      return;
    }
    // A version 2 caller reads the HELLO first, even before a refusal.
    if (this.version === 2) this.sendAcceptance();
    clearTimeout(this.acceptanceTimer);
    this.end(encodeError(id, error, { refused, version: this.version }));
  }

  private finishIfReplied(): void {
    if (this.settled || !this.processReplied || !this.processEnded) return;
    this.settled = true;
    this.end(undefined);
  }

  /** Ends our side; resets the connection if the caller does not close its side soon (see `LINGER_MS`). */
  private end(lastBytes: Uint8Array | undefined): void {
    if (this.socket.destroyed) return;
    if (lastBytes === undefined) this.socket.end();
    else this.socket.end(lastBytes);
    // Drain what the caller still sends, so that closing does not reset the connection under the reply.
    this.socket.resume();
    const linger = setTimeout(() => this.socket.destroy(), LINGER_MS);
    linger.unref();
    this.socket.once("close", () => clearTimeout(linger));
  }
}
