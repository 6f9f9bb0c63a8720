import { connect, createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { once } from "node:events";
import {
  FrameDecoder,
  FunkerError,
  LEGACY_ERROR_KEY,
  LegacyBodyCollector,
  PREFACE,
  decodeJson,
  decodeLegacyReply,
  encodeCall,
  encodeCancel,
  encodeError,
  encodeHeartbeat,
  encodeJson,
  encodeResult,
  isErrorCode,
} from "@funker/protocol";
import type { CallFrame, CallHeader, ErrorCode, Frame } from "@funker/protocol";

/** The outcome of one conformance check. */
export interface CheckResult {
  readonly id: string;
  readonly title: string;
  readonly passed: boolean;
  /** Why it failed. */
  readonly failure?: string;
}

export interface ConformanceReport {
  readonly results: readonly CheckResult[];
  readonly failures: readonly CheckResult[];
  readonly passed: boolean;
}

/** A handler under test, started fresh for each check. */
export interface HandlerUnderTest {
  readonly host: string;
  readonly port: number;
  /** Stops it; called after each check, even a failed one. */
  stop(): Promise<void>;
}

export interface HandlerConformanceOptions {
  /**
   * Starts a fresh handler serving `conformanceFunction` (see its table)
   * under the function name `"conformance"`, in the given mode. An
   * implementation without one of the modes leaves it out of `modes`.
   */
  start(mode: "single-shot" | "reuse"): Promise<HandlerUnderTest>;
  /** Which modes to check. Default both. */
  modes?: readonly ("single-shot" | "reuse")[];
  /** The handler's payload limit, to test that it is enforced. Default 8 MiB. */
  maxPayloadBytes?: number;
  /** Only the checks whose id matches. */
  only?: RegExp;
  /** How long one exchange may take before the check fails. Default 5000 ms. */
  checkTimeoutMs?: number;
}

interface HandlerCheck {
  id: string;
  title: string;
  mode: "single-shot" | "reuse";
  run(target: HandlerUnderTest, context: CheckContext): Promise<void>;
}

interface CheckContext {
  maxPayloadBytes: number;
  timeoutMs: number;
}

const FUNCTION_NAME = "conformance";

/**
 * Checks a handler implementation (any language) against the Funker protocol
 * specification over real TCP: both wire modes, single-shot refusal, every
 * error case, heartbeats, cancel and limits. Framework-agnostic: it returns a
 * report, and your test asserts `report.passed` (print `report.failures`).
 */
export async function runHandlerConformance(options: HandlerConformanceOptions): Promise<ConformanceReport> {
  const modes = options.modes ?? ["single-shot", "reuse"];
  const context: CheckContext = { maxPayloadBytes: options.maxPayloadBytes ?? 8 * 1024 * 1024, timeoutMs: options.checkTimeoutMs ?? 5_000 };
  const results: CheckResult[] = [];
  for (const check of handlerChecks) {
    if (!modes.includes(check.mode)) continue;
    if (options.only !== undefined && !options.only.test(check.id)) continue;
    let target: HandlerUnderTest | undefined;
    try {
      target = await options.start(check.mode);
      await check.run(target, context);
      results.push({ id: check.id, title: check.title, passed: true });
    } catch (error) {
      results.push({ id: check.id, title: check.title, passed: false, failure: describe(error) });
    } finally {
      await target?.stop().catch(() => undefined);
    }
  }
  return report(results);
}

function report(results: CheckResult[]): ConformanceReport {
  const failures = results.filter((result) => !result.passed);
  return { results, failures, passed: failures.length === 0 };
}

function describe(error: unknown): string {
  if (error instanceof FunkerError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function fail(message: string): never {
  throw new Error(message);
}

function header(overrides: Partial<CallHeader> = {}): CallHeader {
  return { id: `c-${Math.random().toString(36).slice(2, 10)}`, function: FUNCTION_NAME, deadline: Date.now() + 10_000, ...overrides };
}

/** Opens a connection and collects what the peer sends. */
class Exchange {
  readonly socket: Socket;
  private readonly decoder = new FrameDecoder({ maxPayloadBytes: 64 * 1024 * 1024 });
  private readonly raw: Uint8Array[] = [];
  readonly frames: Frame[] = [];
  private ended = false;
  private decodeError: unknown;
  private waiters: (() => void)[] = [];

  private constructor(
    socket: Socket,
    private readonly framed: boolean,
  ) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.raw.push(chunk);
      if (this.framed && this.decodeError === undefined) {
        try {
          this.frames.push(...this.decoder.push(chunk));
        } catch (error) {
          this.decodeError = error;
        }
      }
      this.notify();
    });
    socket.on("end", () => this.finish());
    socket.on("close", () => this.finish());
    socket.on("error", () => this.finish());
  }

  /** Connects; `framed: false` for a legacy exchange, whose reply is read as raw bytes. */
  static async open(target: HandlerUnderTest, framed = true): Promise<Exchange> {
    const socket = connect(target.port, target.host);
    socket.setNoDelay(true);
    await once(socket, "connect");
    return new Exchange(socket, framed);
  }

  private finish(): void {
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  get closed(): boolean {
    return this.ended;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.raw);
  }

  /** Waits until `ready()` holds, the connection ends, or the time runs out. */
  async until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      if (this.decodeError !== undefined) fail(`the handler sent bytes that do not decode: ${describe(this.decodeError)}`);
      if (this.ended) fail(`the connection ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) fail(`no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async reply(timeoutMs: number): Promise<Frame> {
    await this.until(() => this.frames.some((frame) => frame.type === "result" || frame.type === "error"), timeoutMs, "a reply frame");
    return this.frames.find((frame) => frame.type === "result" || frame.type === "error") as Frame;
  }

  async end(timeoutMs: number): Promise<void> {
    await this.until(() => this.ended, timeoutMs, "the end of the connection").catch((error: unknown) => {
      if (!this.ended) throw error;
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

async function framedCall(target: HandlerUnderTest, args: unknown, context: CheckContext, overrides: Partial<CallHeader> = {}) {
  const exchange = await Exchange.open(target);
  const call = header(overrides);
  exchange.write(concat(PREFACE, encodeCall(call, args)));
  try {
    const reply = await exchange.reply(context.timeoutMs);
    if (reply.id !== call.id) fail(`the reply carries call id ${JSON.stringify(reply.id)}, not ${JSON.stringify(call.id)}`);
    return { reply, exchange, call };
  } catch (error) {
    exchange.destroy();
    throw error;
  }
}

function expectResult(reply: Frame, expected: unknown): void {
  if (reply.type === "error") fail(`expected a result, got error ${reply.error.code}: ${reply.error.message}`);
  if (reply.type !== "result") fail(`expected a result frame, got ${reply.type}`);
  const value = decodeJson(reply.body);
  if (JSON.stringify(value) !== JSON.stringify(expected)) fail(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(value)}`);
}

/**
 * An error frame with `code`. `refused`: whether the function must not have
 * started (the caller may then deliver the call elsewhere), checked when given.
 */
function expectError(reply: Frame, code: ErrorCode, refused?: boolean): void {
  if (reply.type === "result") fail(`expected error ${code}, got result ${new TextDecoder().decode(reply.body)}`);
  if (reply.type !== "error") fail(`expected an error frame, got ${reply.type}`);
  if (reply.error.code !== code) fail(`expected error ${code}, got ${reply.error.code}: ${reply.error.message}`);
  if (typeof reply.error.message !== "string" || reply.error.message.length === 0) fail("the error has no message");
  if (refused === true && !reply.refused) fail(`the ${code} error does not say refused, though the function did not run`);
  if (refused === false && reply.refused) fail(`the ${code} error says refused, though the function ran`);
}

async function legacyCall(target: HandlerUnderTest, body: Uint8Array, context: CheckContext): Promise<Uint8Array> {
  const exchange = await Exchange.open(target, false);
  exchange.socket.end(body);
  try {
    await exchange.end(context.timeoutMs);
    return exchange.bytes();
  } finally {
    exchange.destroy();
  }
}

function expectLegacyError(bytes: Uint8Array, code: ErrorCode): void {
  const reply = decodeLegacyReply(bytes);
  if (reply.ok) fail(`expected the legacy error object with ${code}, got ${JSON.stringify(reply.value)}`);
  if (reply.error.code !== code) fail(`expected legacy error ${code}, got ${reply.error.code}: ${reply.error.message}`);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** Resolves with the error code of a connection attempt, or "connected". */
async function connectOutcome(target: HandlerUnderTest): Promise<string> {
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

function extensionFrame(): Uint8Array {
  const headerBytes = encodeJson({ id: "x" });
  const bytes = new Uint8Array(5 + 4 + headerBytes.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 0x80);
  view.setUint32(1, 4 + headerBytes.length);
  view.setUint32(5, headerBytes.length);
  bytes.set(headerBytes, 9);
  return bytes;
}

const handlerChecks: HandlerCheck[] = [
  {
    id: "framed.result",
    title: "a framed call gets a result frame with the caller's call id",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "add", x: 1, y: 2 }, context);
      expectResult(reply, 3);
      await exchange.end(context.timeoutMs);
    },
  },
  {
    id: "framed.accepted",
    title: "the first call on a connection is accepted with a heartbeat before the function runs (the caller's proof of delivery)",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange, call } = await framedCall(target, { op: "add", x: 1, y: 2 }, context, { heartbeatIntervalMs: 0 });
      expectResult(reply, 3);
      const first = exchange.frames[0];
      if (first?.type !== "heartbeat" || first.id !== call.id) fail(`the first frame is ${JSON.stringify(first?.type)}, not a heartbeat for the call`);
      exchange.destroy();
    },
  },
  {
    id: "framed.undefined-is-null",
    title: "a function that returns nothing sends null",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "none" }, context);
      expectResult(reply, null);
      exchange.destroy();
    },
  },
  {
    id: "legacy.result",
    title: "a 2017 caller (JSON, half-close) gets the JSON result, then the connection closes",
    mode: "single-shot",
    async run(target, context) {
      const bytes = await legacyCall(target, encodeJson({ op: "add", x: 1, y: 2 }), context);
      const reply = decodeLegacyReply(bytes);
      if (!reply.ok || reply.value !== 3) fail(`expected 3, got ${new TextDecoder().decode(bytes)}`);
    },
  },
  {
    id: "legacy.bad-json",
    title: "malformed JSON from a 2017 caller gets the legacy error object with bad_arguments, not an empty reply",
    mode: "single-shot",
    async run(target, context) {
      expectLegacyError(await legacyCall(target, new TextEncoder().encode('{"op": "add", "x": 1,'), context), "bad_arguments");
    },
  },
  {
    id: "legacy.handler-error",
    title: "a function that throws gives a 2017 caller the legacy error object with handler_error and the message",
    mode: "single-shot",
    async run(target, context) {
      const bytes = await legacyCall(target, encodeJson({ op: "fail", message: "boom" }), context);
      expectLegacyError(bytes, "handler_error");
      const parsed = decodeJson(bytes) as Record<string, { message?: string }>;
      if (parsed[LEGACY_ERROR_KEY]?.message !== "boom") fail("the legacy error object does not carry the function's message");
    },
  },
  {
    id: "framed.handler-error",
    title: "a function that throws gives an error frame with handler_error, its message and its name, not refused",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "fail", message: "boom" }, context);
      expectError(reply, "handler_error", false);
      if (reply.type === "error" && reply.error.message !== "boom") fail(`the message is ${JSON.stringify(reply.error.message)}, not "boom"`);
      if (reply.type === "error" && reply.error.name !== "Error") fail(`the error name is ${JSON.stringify(reply.error.name)}, not "Error"`);
      exchange.destroy();
    },
  },
  {
    id: "framed.bad-arguments",
    title: "arguments that are not JSON get bad_arguments, refused (the function did not run)",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const call = header();
      const valid = encodeCall(call, 0);
      // Replace the one-byte body "0" with a byte that starts no JSON text.
      valid[valid.length - 1] = 0x7d;
      exchange.write(concat(PREFACE, valid));
      try {
        expectError(await exchange.reply(context.timeoutMs), "bad_arguments", true);
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.prototype-key",
    title: 'arguments with a "__proto__" key are refused with bad_arguments',
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const call = header();
      const body = new TextEncoder().encode('{"op":"echo","value":{"__proto__":{"polluted":true}}}');
      const frame = encodeCall(call, 0);
      const patched = new Uint8Array(frame.length - 1 + body.length);
      patched.set(frame.subarray(0, frame.length - 1));
      patched.set(body, frame.length - 1);
      new DataView(patched.buffer).setUint32(1, patched.length - 5);
      exchange.write(concat(PREFACE, patched));
      try {
        expectError(await exchange.reply(context.timeoutMs), "bad_arguments");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.wrong-function",
    title: "a call for another function's name gets not_found, refused",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "add", x: 1, y: 2 }, context, { function: "not-conformance" });
      expectError(reply, "not_found", true);
      exchange.destroy();
    },
  },
  {
    id: "framed.too-large",
    title: "a frame claiming more than the payload limit gets payload_too_large without the bytes being sent",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const claim = new Uint8Array(9);
      const view = new DataView(claim.buffer);
      view.setUint8(0, 0x01);
      view.setUint32(1, context.maxPayloadBytes + 70_000 + 8);
      view.setUint32(5, 30);
      exchange.write(concat(PREFACE, claim));
      try {
        expectError(await exchange.reply(context.timeoutMs), "payload_too_large");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.garbage-after-preface",
    title: "an unknown critical frame type gets protocol_error",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      exchange.write(concat(PREFACE, Uint8Array.of(0x06, 0, 0, 0, 6, 0, 0, 0, 2, 0x7b, 0x7d)));
      try {
        expectError(await exchange.reply(context.timeoutMs), "protocol_error");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.bad-version",
    title: "a preface with an unknown version gets protocol_error",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const preface = Uint8Array.from(PREFACE);
      preface[preface.length - 1] = 0x7f;
      exchange.write(preface);
      try {
        expectError(await exchange.reply(context.timeoutMs), "protocol_error");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.extension-skipped",
    title: "an extension frame (type 0x80 and above) is skipped",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const call = header();
      exchange.write(concat(PREFACE, extensionFrame(), encodeCall(call, { op: "add", x: 2, y: 3 })));
      try {
        expectResult(await exchange.reply(context.timeoutMs), 5);
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "framed.heartbeat",
    title: "a long call sends heartbeats at the interval the caller asked for",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "sleep", ms: 600 }, context, { heartbeatIntervalMs: 50 });
      expectResult(reply, "slept");
      const heartbeats = exchange.frames.filter((frame) => frame.type === "heartbeat");
      if (heartbeats.length < 2) fail(`expected heartbeats during a 600 ms call at 50 ms, got ${heartbeats.length}`);
      exchange.destroy();
    },
  },
  {
    id: "framed.deadline",
    title: "a call past its deadline gets deadline_exceeded",
    mode: "single-shot",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "sleep", ms: 30_000 }, context, { deadline: Date.now() + 300 });
      expectError(reply, "deadline_exceeded");
      exchange.destroy();
    },
  },
  {
    id: "framed.cancel",
    title: "a cancel frame stops the call: the reply is cancelled",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const call = header();
      exchange.write(concat(PREFACE, encodeCall(call, { op: "sleep", ms: 30_000 })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      exchange.write(encodeCancel(call.id, "test"));
      try {
        expectError(await exchange.reply(context.timeoutMs), "cancelled");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "single-shot.refuse-while-busy",
    title: "single-shot: once a call is accepted, other callers are refused (ECONNREFUSED)",
    mode: "single-shot",
    async run(target, context) {
      const exchange = await Exchange.open(target);
      const call = header();
      exchange.write(concat(PREFACE, encodeCall(call, { op: "sleep", ms: 500 })));
      try {
        // Give the handler a moment to close its listener after accepting.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const outcome = await connectOutcome(target);
        if (outcome !== "ECONNREFUSED") fail(`a second caller got ${outcome}, not ECONNREFUSED`);
        expectResult(await exchange.reply(context.timeoutMs), "slept");
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "reuse.keep-alive",
    title: "reuse: a framed caller may send a second call on the same connection",
    mode: "reuse",
    async run(target, context) {
      const { reply, exchange } = await framedCall(target, { op: "add", x: 1, y: 1 }, context);
      expectResult(reply, 2);
      if (reply.type !== "result" || !reply.keepAlive) fail("the result does not say keepAlive in reuse mode");
      const second = header();
      const before = exchange.frames.length;
      exchange.write(encodeCall(second, { op: "add", x: 2, y: 2 }));
      const isReply = (frame: Frame) => frame.type === "result" || frame.type === "error";
      try {
        await exchange.until(() => exchange.frames.slice(before).some(isReply), context.timeoutMs, "a second reply");
        expectResult(exchange.frames.slice(before).find(isReply) as Frame, 4);
      } finally {
        exchange.destroy();
      }
    },
  },
  {
    id: "reuse.busy",
    title: "reuse: a caller beyond the concurrency limit gets unavailable at once, refused",
    mode: "reuse",
    async run(target, context) {
      const first = await Exchange.open(target);
      first.write(concat(PREFACE, encodeCall(header(), { op: "sleep", ms: 1_000 })));
      await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        const { reply, exchange } = await framedCall(target, { op: "add", x: 1, y: 2 }, context);
        expectError(reply, "unavailable", true);
        exchange.destroy();
      } finally {
        first.destroy();
      }
    },
  },
  {
    id: "reuse.legacy",
    title: "reuse: 2017 callers are served one after another",
    mode: "reuse",
    async run(target, context) {
      for (const x of [1, 2]) {
        const reply = decodeLegacyReply(await legacyCall(target, encodeJson({ op: "add", x, y: 1 }), context));
        if (!reply.ok || reply.value !== x + 1) fail(`call ${x} did not return ${x + 1}`);
      }
    },
  },
];

/** A caller under test: it calls the function at `host:port` with `args` and reports what it got. */
export interface CallerUnderTest {
  /** Which wire format the caller speaks. */
  readonly protocol: "framed" | "legacy";
  /**
   * Makes one call. Resolve with `{ ok: true, value }` for a result, or
   * `{ ok: false, code }` when the caller reports an error (a caller that
   * cannot tell errors apart resolves with the value it received).
   */
  call(host: string, port: number, args: unknown, options: { timeoutMs: number }): Promise<{ ok: true; value: unknown } | { ok: false; code: string }>;
}

export interface CallerConformanceOptions {
  caller: CallerUnderTest;
  /** Only the checks whose id matches. */
  only?: RegExp;
}

type ReferenceBehaviour = (call: { frame?: CallFrame; args: unknown }, socket: Socket) => void;

interface CallerCheck {
  id: string;
  title: string;
  protocols: readonly ("framed" | "legacy")[];
  behaviour: ReferenceBehaviour;
  args: unknown;
  expect(outcome: { ok: true; value: unknown } | { ok: false; code: string }, received: { frame?: CallFrame; args: unknown }): void;
}

/**
 * Checks a caller implementation against a reference function served here on
 * a real TCP port: the request bytes it sends, and what it makes of results,
 * errors, chunked replies, heartbeats and silence.
 */
export async function runCallerConformance(options: CallerConformanceOptions): Promise<ConformanceReport> {
  const results: CheckResult[] = [];
  for (const check of callerChecks) {
    if (!check.protocols.includes(options.caller.protocol)) continue;
    if (options.only !== undefined && !options.only.test(check.id)) continue;
    try {
      await runCallerCheck(options.caller, check);
      results.push({ id: check.id, title: check.title, passed: true });
    } catch (error) {
      results.push({ id: check.id, title: check.title, passed: false, failure: describe(error) });
    }
  }
  return report(results);
}

async function runCallerCheck(caller: CallerUnderTest, check: CallerCheck): Promise<void> {
  let received: { frame?: CallFrame; args: unknown } | undefined;
  let requestError: unknown;
  const sockets = new Set<Socket>();
  // allowHalfOpen: a legacy caller half-closes, and the reply still has to go out.
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    readRequest(socket, caller.protocol).then(
      (request) => {
        received = request;
        check.behaviour(request, socket);
      },
      (error: unknown) => {
        requestError = error;
        socket.destroy();
      },
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  try {
    const { port } = server.address() as AddressInfo;
    const outcome = await caller.call("127.0.0.1", port, check.args, { timeoutMs: 5_000 });
    if (requestError !== undefined) fail(`the caller's request does not follow the protocol: ${describe(requestError)}`);
    if (received === undefined) fail("the caller sent no complete request");
    check.expect(outcome, received);
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}

/** Reads a request as the specification defines it: legacy JSON up to the half-close, or a preface and a call frame. */
function readRequest(socket: Socket, protocol: "framed" | "legacy"): Promise<{ frame?: CallFrame; args: unknown }> {
  return new Promise((resolve, reject) => {
    if (protocol === "legacy") {
      const body = new LegacyBodyCollector();
      socket.on("data", (chunk: Buffer) => {
        try {
          body.push(chunk);
        } catch (error) {
          reject(error);
        }
      });
      socket.once("end", () => {
        try {
          resolve({ args: decodeJson(body.bytes(), "bad_arguments", "arguments") });
        } catch (error) {
          reject(error);
        }
      });
      return;
    }
    const decoder = new FrameDecoder({ expectPreface: true });
    socket.on("data", (chunk: Buffer) => {
      try {
        const frame = decoder.push(chunk).find((candidate) => candidate.type === "call");
        if (frame !== undefined && frame.type === "call") {
          if (frame.deadline <= Date.now()) reject(new Error("the call's deadline is already in the past"));
          resolve({ frame, args: decodeJson(frame.body, "bad_arguments", "arguments") });
        }
      } catch (error) {
        reject(error);
      }
    });
    socket.once("end", () => reject(new Error("the caller half-closed before sending a whole call frame")));
  });
}

function replyWith(value: unknown, chunkSize?: number): ReferenceBehaviour {
  return ({ frame }, socket) => {
    const bytes = frame === undefined ? encodeJson(value) : encodeResult(frame.id, value);
    if (chunkSize === undefined) {
      socket.end(bytes);
      return;
    }
    let offset = 0;
    const next = () => {
      if (offset >= bytes.length) {
        socket.end();
        return;
      }
      socket.write(bytes.subarray(offset, offset + chunkSize));
      offset += chunkSize;
      setTimeout(next, 1);
    };
    next();
  };
}

function expectValue(expected: unknown) {
  return (outcome: { ok: true; value: unknown } | { ok: false; code: string }) => {
    if (!outcome.ok) fail(`expected ${JSON.stringify(expected)}, the caller reported error ${outcome.code}`);
    if (JSON.stringify(outcome.value) !== JSON.stringify(expected)) fail(`expected ${JSON.stringify(expected)}, got ${JSON.stringify(outcome.value)}`);
  };
}

const callerChecks: CallerCheck[] = [
  {
    id: "caller.request",
    title: "the caller sends its arguments as the specification says (legacy: one JSON text and a half-close; framed: preface and a call frame)",
    protocols: ["legacy", "framed"],
    args: { x: 1, y: 2 },
    behaviour: replyWith(3),
    expect(outcome, received) {
      if (JSON.stringify(received.args) !== JSON.stringify({ x: 1, y: 2 })) fail(`the function received ${JSON.stringify(received.args)}`);
      expectValue(3)(outcome);
    },
  },
  {
    id: "caller.result-object",
    title: "the caller returns an object result intact",
    protocols: ["legacy", "framed"],
    args: { x: 1 },
    behaviour: replyWith({ sum: 3, parts: [1, 2], note: "héllo ✓" }),
    expect: expectValue({ sum: 3, parts: [1, 2], note: "héllo ✓" }),
  },
  {
    id: "caller.chunked-reply",
    title: "a reply that arrives a few bytes at a time is read whole",
    protocols: ["legacy", "framed"],
    args: {},
    behaviour: replyWith({ list: [1, 2, 3, 4, 5, 6, 7, 8] }, 3),
    expect: expectValue({ list: [1, 2, 3, 4, 5, 6, 7, 8] }),
  },
  {
    id: "caller.legacy-error-object",
    title: "the legacy error object reaches the caller (as an error, or intact as a value for a 2017 caller)",
    protocols: ["legacy"],
    args: {},
    behaviour: (_request, socket) => {
      socket.end(encodeJson({ [LEGACY_ERROR_KEY]: { code: "handler_error", message: "boom", name: "Error" } }));
    },
    expect(outcome) {
      if (!outcome.ok) {
        if (outcome.code !== "handler_error") fail(`the caller reported ${outcome.code}, not handler_error`);
        return;
      }
      const value = outcome.value as Record<string, { code?: unknown }> | null;
      if (value?.[LEGACY_ERROR_KEY]?.code !== "handler_error") fail(`the caller returned ${JSON.stringify(outcome.value)}`);
    },
  },
  {
    id: "caller.error-frame",
    title: "an error frame makes the caller report the error's code",
    protocols: ["framed"],
    args: {},
    behaviour: ({ frame }, socket) => {
      socket.end(encodeError(frame?.id ?? "", { code: "handler_error", message: "boom", name: "TypeError" }));
    },
    expect(outcome) {
      if (outcome.ok) fail(`the caller returned ${JSON.stringify(outcome.value)} for an error frame`);
      if (outcome.code !== "handler_error") fail(`the caller reported ${outcome.code}, not handler_error`);
    },
  },
  {
    id: "caller.heartbeats",
    title: "heartbeats before the result are not mistaken for a reply",
    protocols: ["framed"],
    args: {},
    behaviour: ({ frame }, socket) => {
      const id = frame?.id ?? "";
      socket.write(encodeHeartbeat(id));
      setTimeout(() => socket.write(encodeHeartbeat(id)), 20);
      setTimeout(() => socket.end(encodeResult(id, "done")), 40);
    },
    expect: expectValue("done"),
  },
  {
    id: "caller.wrong-id",
    title: "a reply for another call id is a protocol error, not a result",
    protocols: ["framed"],
    args: {},
    behaviour: (_request, socket) => {
      socket.end(encodeResult("someone-else", 42));
    },
    expect(outcome) {
      if (outcome.ok) fail(`the caller accepted a reply for another call: ${JSON.stringify(outcome.value)}`);
      if (!isErrorCode(outcome.code)) fail(`the caller reported ${outcome.code}, which is not a Funker code`);
    },
  },
  {
    id: "caller.closed-without-reply",
    title: "a connection closed without a reply is an error, never a silent null",
    protocols: ["framed"],
    args: {},
    behaviour: (_request, socket) => {
      socket.end();
    },
    expect(outcome) {
      if (outcome.ok) fail(`the caller returned ${JSON.stringify(outcome.value)} for a connection closed without a reply`);
    },
  },
];
