import { connect } from "node:net";
import type { Socket } from "node:net";
import { once } from "node:events";
import { FrameDecoder, PROTOCOL_VERSION, encodeCall, encodeCancel, prefaceFor } from "@funker/protocol";
import type { CallHeader, Frame, ProtocolVersion } from "@funker/protocol";
import { handler } from "@funker/handler";
import type { FunctionServer, HandlerContext, HandlerOptions, HandlerResult } from "@funker/handler";

/** Options for servers under test: a free loopback port, no process exit, no log noise. */
export const testOptions = { port: 0, host: "127.0.0.1", exit: false, log: false } as const satisfies HandlerOptions;

export interface TestServer extends AsyncDisposable {
  server: FunctionServer;
  port: number;
}

/** Starts `handler(fn, …)` for one test; dispose it with `await using`. */
export async function serve<Args, Result>(
  fn: (args: Args, context: HandlerContext<Result>) => HandlerResult<Result>,
  options: HandlerOptions & { schema?: undefined } = {},
): Promise<TestServer> {
  return started(handler(fn, { ...testOptions, ...options }));
}

/** Waits for a server started by the test itself (e.g. with a schema) and makes it disposable. */
export async function started(server: FunctionServer): Promise<TestServer> {
  const { port } = await server.ready;
  return { server, port, [Symbol.asyncDispose]: () => server.close() };
}

/** Opens a loopback connection; `destroy` on dispose. */
export async function open(port: number): Promise<Socket & AsyncDisposable> {
  const socket = connect(port, "127.0.0.1") as Socket & AsyncDisposable;
  socket.on("error", () => undefined);
  await once(socket, "connect");
  socket[Symbol.asyncDispose] = async () => {
    socket.destroy();
  };
  return socket;
}

/** Reads a socket to its end; resolves with every byte (an empty buffer when the peer closed without a reply). */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("close", () => resolve(Buffer.concat(chunks)));
  });
}

/** A 2017 call: write the body, half-close, read the reply to the end. */
export async function legacyCall(port: number, body: string | Uint8Array): Promise<Buffer> {
  const socket = await open(port);
  const reply = readAll(socket);
  socket.end(body);
  return reply;
}

/** A legacy call's reply, parsed. */
export async function legacyCallJson(port: number, body: string | Uint8Array): Promise<unknown> {
  const reply = await legacyCall(port, body);
  return JSON.parse(reply.toString("utf8"));
}

let callCounter = 0;

/** A framed caller on one connection: sends calls and reads frames as they come. */
export class FramedCaller implements AsyncDisposable {
  readonly frames: Frame[] = [];
  ended = false;
  private readonly decoder: FrameDecoder;
  private waiters: (() => void)[] = [];
  private prefaceSent = false;

  /** `version`: the framed protocol version this caller speaks; a version 2 handler's HELLO is then among `frames`. */
  constructor(
    readonly socket: Socket,
    readonly version: ProtocolVersion = PROTOCOL_VERSION,
  ) {
    this.decoder = new FrameDecoder({ version, expectHello: version === 2 });
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.frames.push(frame);
      this.wake();
    });
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  static async open(port: number, version: ProtocolVersion = PROTOCOL_VERSION): Promise<FramedCaller> {
    return new FramedCaller(await open(port), version);
  }

  /** Sends a call; returns its id. */
  send(args: unknown, header: Partial<CallHeader> = {}): string {
    const id = header.id ?? `call-${(callCounter += 1)}`;
    const frame = encodeCall({ id, function: "test", deadline: Date.now() + 30_000, ...header }, args, { version: this.version });
    if (!this.prefaceSent) {
      this.prefaceSent = true;
      this.socket.write(Buffer.concat([prefaceFor(this.version), frame]));
    } else this.socket.write(frame);
    return id;
  }

  cancel(id: string, reason?: string): void {
    this.socket.write(encodeCancel(id, reason, { version: this.version }));
  }

  /** Waits for the next frame that is a result or an error (skipping heartbeats), and removes it. */
  async reply(): Promise<Frame> {
    for (;;) {
      const index = this.frames.findIndex((frame) => frame.type === "result" || frame.type === "error");
      if (index >= 0) return this.frames.splice(index, 1)[0] as Frame;
      if (this.ended) throw new Error("the connection closed without a reply");
      await this.next();
    }
  }

  /** Waits until the handler closes the connection. */
  async closed(): Promise<void> {
    while (!this.ended) await this.next();
  }

  /** Waits until `predicate` holds for the frames received so far. */
  async waitFor(predicate: (frames: Frame[]) => boolean): Promise<void> {
    while (!predicate(this.frames)) {
      if (this.ended) throw new Error("the connection closed before the expected frames");
      await this.next();
    }
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.socket.destroy();
  }
}

/** A framed call on its own connection. */
export async function framedCall(port: number, args: unknown, header: Partial<CallHeader> = {}, version: ProtocolVersion = PROTOCOL_VERSION): Promise<Frame> {
  await using caller = await FramedCaller.open(port, version);
  caller.send(args, header);
  return await caller.reply();
}

/** The decoded value of a result frame. */
export function resultValue(frame: Frame): unknown {
  if (frame.type !== "result") throw new Error(`expected a result, got ${JSON.stringify(frame)}`);
  return JSON.parse(Buffer.from(frame.body).toString("utf8"));
}

/** Decodes a legacy reply; throws unless it is the documented error object, and returns its wire error. */
export function legacyError(reply: Buffer): { code: string; message: string; name?: string; data?: unknown; stack?: string; cause?: unknown } {
  const value = JSON.parse(reply.toString("utf8")) as { funkerError?: { code: string; message: string } };
  if (value.funkerError === undefined) throw new Error(`expected a legacy error object, got ${reply.toString("utf8")}`);
  return value.funkerError;
}

/** The wire error of an error frame. */
export function frameError(frame: Frame): { code: string; message: string; name?: string; data?: unknown; stack?: string; cause?: unknown } {
  if (frame.type !== "error") throw new Error(`expected an error, got ${JSON.stringify(frame)}`);
  return frame.error;
}

/** A promise with its resolve function, for functions under test to signal or wait on. */
export function deferred<Value = void>(): { promise: Promise<Value>; resolve: (value: Value) => void } {
  let resolve!: (value: Value) => void;
  const promise = new Promise<Value>((settle) => (resolve = settle));
  return { promise, resolve };
}

export { keepaliveTimerOn } from "@funker/test-utils";
