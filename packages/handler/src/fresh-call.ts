import type { Socket } from "node:net";
import { FunkerError, detectWireMode, encodeError, encodeLegacyError, prefaceFor } from "@funker/protocol";
import type { ProtocolVersion, WireError, WireMode } from "@funker/protocol";
import type { CallRecord } from "./call-record.js";
import type { StartedMessage } from "./fresh-messages.js";
import { LINGER_MS } from "./linger.js";

const PREFACE_LENGTH = prefaceFor(2).length;

/**
 * A caller's connection as a fresh-mode supervisor holds it: accepted on the
 * port, then joined to a process's call pipe, the bytes copied both ways
 * with back-pressure. The process writes the reply and its log line; the
 * supervisor answers (and logs) the call itself only when the process
 * cannot: it died, or it was stopped at the call's time limit.
 */
export class FreshCall {
  /** Set from the process's `started` message: the call was read and its function is about to run. */
  started: StartedMessage | undefined;
  private mode: WireMode | undefined;
  /** The caller's first bytes, up to a preface's length: the framed version its answers from here must speak. */
  private opening = Buffer.alloc(0);
  private pipe: Socket | undefined;
  private processReplied = false;
  private processEnded = false;
  private settled = false;
  private callerGone = false;
  private readonly closedPromise: Promise<void>;

  constructor(
    private readonly socket: Socket,
    readonly acceptedAt: number,
    private readonly record: (record: CallRecord) => void,
  ) {
    this.closedPromise = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => undefined);
  }

  /** Resolves once the caller's socket has closed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /**
   * Joins the caller to a process's call pipe. `onCallerGone` runs when the
   * caller's connection closes before the call was answered, so that the
   * process can abort the call as it would on a TCP connection of its own.
   */
  attach(pipe: Socket, onCallerGone: () => void): void {
    const socket = this.socket;
    this.pipe = pipe;
    pipe.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      this.mode ??= detectWireMode(chunk);
      if (this.opening.length < PREFACE_LENGTH) this.opening = Buffer.concat([this.opening, chunk]).subarray(0, PREFACE_LENGTH);
      if (!this.settled && !pipe.write(chunk)) socket.pause();
    });
    pipe.on("drain", () => socket.resume());
    // A 2017 caller half-closes to say "that was all": the process must see it too.
    socket.on("end", () => pipe.end());
    pipe.on("data", (chunk: Buffer) => {
      if (!this.settled && !this.callerGone && !socket.write(chunk)) pipe.pause();
    });
    socket.on("drain", () => pipe.resume());
    pipe.on("end", () => {
      this.processEnded = true;
      this.finishIfReplied();
    });
    socket.once("close", () => {
      this.callerGone = true;
      if (!this.settled) onCallerGone();
      // The process may still write its reply: read it to the end, so that it finishes as it would on TCP.
      pipe.resume();
      pipe.end();
    });
    socket.resume();
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
    this.record({
      id: this.started?.id ?? "",
      functionName: this.started?.functionName,
      protocol,
      durationMs: Date.now() - this.acceptedAt,
      error,
      served: this.started !== undefined,
    });
    if (this.callerGone || this.socket.destroyed) return;
    if (protocol === undefined) {
      // The caller has sent nothing yet: there is no call to answer, and it may safely go elsewhere.
      this.socket.destroy();
      return;
    }
    this.end(protocol === "framed" ? encodeError(this.started?.id ?? "", error, { refused, version: this.framedVersion() }) : encodeLegacyError(error));
  }

  /** The version the caller's preface named: 2 for a version 2 preface, else 1 (PROTOCOL.md 5.1). */
  private framedVersion(): ProtocolVersion {
    const version2 = prefaceFor(2);
    return this.opening.length === PREFACE_LENGTH && this.opening.equals(version2) ? 2 : 1;
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
