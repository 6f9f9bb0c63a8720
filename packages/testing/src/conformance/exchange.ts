import { connect } from "node:net";
import type { Socket } from "node:net";
import { once } from "node:events";
import { FrameDecoder } from "@funker/protocol";
import type { ErrorFrame, Frame, ResultFrame } from "@funker/protocol";
import {
  CLOSED_BEFORE_ANY_FRAME,
  CLOSED_WITHOUT_REPLY,
  CONNECTION_RESET,
  SILENT_TO_FRAMED_CALLS,
  SILENT_TO_LEGACY_CALLS,
  causeOfUndecodableFrames,
} from "./causes.js";
import { countOf, describeBytes, describeError, fail } from "./failure.js";

/** Where a handler under test listens. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** The wire format of an exchange: frames after a preface, or one 2017 JSON text each way. */
export type WireFormat = "framed" | "legacy";

/** What to wait for, as a failure names it, and what silence would mean for this check. */
export interface Expectation {
  readonly expected: string;
  /** The likely cause when the handler sends nothing more (it is added to the 2017 guess when nothing came at all). */
  readonly ifSilent?: string;
}

type Ending = { readonly kind: "closed" } | { readonly kind: "reset"; readonly code: string };

// A conformance reply is small; the limit only keeps a runaway handler from
// filling the memory of the process running the checks.
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * One raw connection to a handler under test: it writes exactly the bytes a
 * check gives it and records everything that comes back (bytes, frames, and
 * how and when the connection ended), so that a failure says what came
 * instead of the expected answer: bytes, a close, a reset, or silence.
 */
export class Exchange {
  readonly frames: Frame[] = [];
  private readonly chunks: Buffer[] = [];
  private receivedLength = 0;
  // A version 2 handler's first frame is its HELLO; one that refuses the preface answers with a version 1 ERROR.
  private readonly decoder = new FrameDecoder({ maxPayloadBytes: MAX_REPLY_BYTES, expectHello: true });
  private decodeError: unknown;
  private ending: Ending | undefined;
  /** Date.now() of the last byte written or received: silence is counted from it. */
  private lastActivity = Date.now();
  private repliesTaken = 0;
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly wire: WireFormat,
  ) {
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("end", () => this.finish({ kind: "closed" }));
    socket.on("error", (error: NodeJS.ErrnoException) => this.finish({ kind: "reset", code: error.code ?? error.message }));
    socket.on("close", () => this.finish({ kind: "closed" }));
  }

  /** Connects to the target; a refused connection fails the check with what start() must guarantee. */
  static async open(target: Endpoint, wire: WireFormat): Promise<Exchange> {
    const socket = connect(target.port, target.host);
    socket.setNoDelay(true);
    try {
      await once(socket, "connect");
    } catch (error) {
      socket.destroy();
      fail({
        expected: `a connection to ${target.host}:${target.port}`,
        instead: `the connection failed (${(error as NodeJS.ErrnoException).code ?? describeError(error)})`,
        cause: "start() resolved before the handler listened, or the handler exited or closed its listener before this check's first connection",
      });
    }
    return new Exchange(socket, wire);
  }

  send(bytes: Uint8Array): void {
    this.lastActivity = Date.now();
    this.socket.write(bytes);
  }

  /** Sends the last bytes of a 2017 request and half-closes: the 2017 end of a request. */
  sendAndHalfClose(bytes: Uint8Array): void {
    this.lastActivity = Date.now();
    this.socket.end(bytes);
  }

  /** Everything received so far. */
  received(): Uint8Array {
    return Buffer.concat(this.chunks);
  }

  /**
   * The next RESULT or ERROR frame, after those already taken. With `callId`,
   * it must be about that call (an ERROR with an empty id is about the call in
   * flight, PROTOCOL.md 6.1). `reply`: the reply the check wants, as a
   * failure names it ("the RESULT 3").
   */
  async nextReply(timeoutMs: number, expectation: { reply: string; callId?: string; ifSilent?: string }): Promise<ResultFrame | ErrorFrame> {
    const replies = () => this.frames.filter((frame): frame is ResultFrame | ErrorFrame => frame.type === "result" || frame.type === "error");
    const about = expectation.callId === undefined ? "" : ` for call "${expectation.callId}"`;
    await this.waitFor(() => replies().length > this.repliesTaken, timeoutMs, {
      expected: `${expectation.reply}${about} within ${timeoutMs} ms`,
      ifSilent: expectation.ifSilent,
    });
    const reply = replies()[this.repliesTaken++] as ResultFrame | ErrorFrame;
    const forCall = reply.id === expectation.callId || (reply.type === "error" && reply.id === "");
    if (expectation.callId !== undefined && !forCall) {
      fail({
        expected: `a reply${about}`,
        instead: `a ${reply.type.toUpperCase()} frame for call ${JSON.stringify(reply.id)}`,
        cause: "every frame about a call carries the CALL's id, copied as it came (PROTOCOL.md 6.1)",
      });
    }
    return reply;
  }

  /** The bytes of a 2017 reply: everything up to the handler's close. */
  async legacyReply(timeoutMs: number): Promise<Uint8Array> {
    await this.waitFor(() => this.ending?.kind === "closed", timeoutMs, { expected: `a 2017 reply closed by the target within ${timeoutMs} ms` });
    return this.received();
  }

  /** Waits for the target to end the connection, by a close or a reset. */
  async endOfConnection(timeoutMs: number, expectation: Expectation): Promise<void> {
    await this.waitFor(() => this.ending !== undefined, timeoutMs, expectation);
  }

  /**
   * Waits until `ready()` holds. Fails as soon as it cannot hold any more
   * (the connection ended, or the bytes stopped decoding) or after
   * `timeoutMs`, saying what came instead.
   */
  async waitFor(ready: () => boolean, timeoutMs: number, expectation: Expectation): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (this.decodeError !== undefined || this.ending !== undefined || left <= 0) {
        fail({ expected: expectation.expected, instead: this.whatCame(), cause: this.likelyCause(expectation.ifSilent) });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.lastActivity = Date.now();
    this.chunks.push(chunk);
    this.receivedLength += chunk.length;
    if (this.wire === "framed" && this.decodeError === undefined) {
      try {
        this.frames.push(...this.decoder.push(chunk));
      } catch (error) {
        this.decodeError = error;
      }
    }
    this.wake();
  }

  private finish(ending: Ending): void {
    // The first ending counts: a reset after the target's close is only our late write meeting it.
    this.ending ??= ending;
    if (this.wire === "framed" && this.decodeError === undefined) {
      try {
        // Bytes short of a frame prefix ("3", "null") fail here, as a truncated frame.
        this.decoder.end();
      } catch (error) {
        this.decodeError = error;
      }
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** What the target sent, as a failure names it. */
  private whatCame(): string {
    if (this.decodeError !== undefined) {
      const after = this.frames.length === 0 ? "" : ` after ${describeFrames(this.frames)}`;
      const then = this.ending === undefined ? "" : `, then ${this.describeEnding()}`;
      return `${describeBytes(this.received())}, which do not decode as frames${after} (${describeError(this.decodeError)})${then}`;
    }
    const received = this.describeReceived();
    if (this.ending !== undefined) return `${this.describeEnding()} after ${received}`;
    const silence = `silence for ${Date.now() - this.lastActivity} ms`;
    return this.receivedLength === 0 ? `${silence}: not a byte came back` : `${silence} after ${received}`;
  }

  private describeEnding(): string {
    if (this.ending?.kind !== "reset") return "the connection was closed by the target";
    return this.ending.code === "ECONNRESET" ? "the connection was reset (ECONNRESET)" : `the connection failed (${this.ending.code})`;
  }

  private describeReceived(): string {
    if (this.wire === "legacy" || this.frames.length === 0) return describeBytes(this.received());
    const unfinished = this.decoder.bufferedBytes === 0 ? "" : `, then ${countOf(this.decoder.bufferedBytes, "byte")} of an unfinished frame`;
    return `${countOf(this.receivedLength, "byte")}: ${describeFrames(this.frames)}${unfinished}`;
  }

  private likelyCause(ifSilent: string | undefined): string | undefined {
    if (this.decodeError !== undefined) return causeOfUndecodableFrames(this.received());
    if (this.ending?.kind === "reset") return CONNECTION_RESET;
    const nothingCame = this.receivedLength === 0;
    if (this.ending?.kind === "closed") {
      if (this.wire === "legacy") return undefined;
      return nothingCame ? CLOSED_BEFORE_ANY_FRAME : CLOSED_WITHOUT_REPLY;
    }
    if (!nothingCame) return ifSilent;
    if (this.wire === "legacy") return ifSilent ?? SILENT_TO_LEGACY_CALLS;
    return ifSilent === undefined ? SILENT_TO_FRAMED_CALLS : `${ifSilent}; if no framed check passes, ${SILENT_TO_FRAMED_CALLS}`;
  }
}

/**
 * Opens a connection to the target, runs `use` on it, and destroys the
 * connection whatever happens, so that no check leaves a socket behind.
 */
export async function withExchange<T>(target: Endpoint, wire: WireFormat, use: (exchange: Exchange) => Promise<T>): Promise<T> {
  const exchange = await Exchange.open(target, wire);
  try {
    return await use(exchange);
  } finally {
    exchange.destroy();
  }
}

/** Resolves with the error code of a connection attempt ("ECONNREFUSED", …), or "connected". */
export async function connectOutcome(target: Endpoint): Promise<string> {
  const socket = connect(target.port, target.host);
  try {
    await once(socket, "connect");
    return "connected";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "error";
  } finally {
    socket.destroy();
  }
}

/** Frames as a failure lists them, a run of the same frame counted once ("a HEARTBEAT for call "c-1" ×3"). */
export function describeFrames(frames: readonly Frame[]): string {
  const runs: { text: string; count: number }[] = [];
  for (const frame of frames) {
    const text = describeFrame(frame);
    const last = runs.at(-1);
    if (last?.text === text) last.count += 1;
    else runs.push({ text, count: 1 });
  }
  return runs.map(({ text, count }) => (count === 1 ? text : `${text} ×${count}`)).join(", ");
}

/** A frame as a failure names it: its type, and what it says. */
export function describeFrame(frame: Frame): string {
  switch (frame.type) {
    case "result":
      return `a RESULT ${new TextDecoder().decode(frame.body.subarray(0, 200))}`;
    case "error":
      return `an ERROR ${frame.error.code}${frame.refused ? " (refused)" : ""}: ${JSON.stringify(frame.error.message)}`;
    case "heartbeat":
      return `a HEARTBEAT for call ${JSON.stringify(frame.id)}`;
    case "call":
      return "a CALL, which only callers send";
    case "cancel":
      return "a CANCEL, which only callers send";
    case "hello":
      return `a HELLO (version ${frame.version}${frame.functionName === undefined ? "" : `, serving ${JSON.stringify(frame.functionName)}`})`;
    default:
      return frame satisfies never;
  }
}
