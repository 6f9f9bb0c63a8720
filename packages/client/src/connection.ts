import { connect } from "node:net";
import type { Socket } from "node:net";
import {
  FrameDecoder,
  FunkerError,
  HEARTBEAT_MISSES_BEFORE_DEAD,
  LegacyBodyCollector,
  PREFACE,
  decodeJson,
  decodeLegacyReply,
  encodeCancel,
  prefaceFor,
  withLegacyMark,
} from "@funker/protocol";
import { writeCallFrame } from "@funker/protocol/internal";
import type { Frame, HelloFrame, ProtocolVersion } from "@funker/protocol";
import { Alarm, TCP_KEEPALIVE_DELAY_MS, timerDelay } from "@funker/node-utils";
import type { AttemptOutcome, AttemptRequest } from "./attempt.js";
import type { Address } from "./discovery.js";
import type { ProtocolMemory } from "./protocol-memory.js";
import { failureFromSocketError } from "./socket-errors.js";

/**
 * The error of a connection that was not established in time: a replica that
 * vanished with its address still in DNS (its SYNs are dropped silently on an
 * overlay network), or one that is overloaded. Nothing was sent, so the call
 * moves on to another replica.
 */
function connectTimedOut(address: Address, request: AttemptRequest): FunkerError {
  return new FunkerError("connection_failed", `could not connect to ${address.key} within ${request.connectTimeoutMs} ms`, {
    mayHaveRun: false,
    data: { address: address.key },
  });
}

/**
 * Marks an error raised after the call was written as one that may have run:
 * the protocol layer sets `mayHaveRun: false` on decoding errors because it
 * does not know which side decoded, but a bad reply means the function ran.
 */
export function afterSendError(error: unknown, code: "protocol_error" | "handler_crashed" = "protocol_error"): FunkerError {
  const funkerError = FunkerError.from(error, code);
  if (funkerError.mayHaveRun || funkerError.remote) return funkerError;
  return new FunkerError(funkerError.code, funkerError.message, {
    cause: funkerError.cause,
    data: funkerError.data,
    mayHaveRun: true,
  });
}

/**
 * Every framed connection reads into this one buffer (Node's `onread`),
 * which spares a Buffer and the stream machinery per read: measured, about
 * a tenth of the client's CPU per call on a kept connection. One buffer
 * serves them all because a read is handled to the end (frames decoded,
 * results parsed, an unfinished frame copied by the decoder) before the
 * event loop makes the next one.
 */
const readBuffer = Buffer.allocUnsafe(64 * 1024);
/**
 * The same memory as a plain Uint8Array: each read is handed on as a view
 * of it, and a Uint8Array's `subarray` is V8's own, where a Buffer's goes
 * through Node's JavaScript subclass (a measurable share of a kept call).
 */
const readBytes = new Uint8Array(readBuffer.buffer, readBuffer.byteOffset, readBuffer.length);

/**
 * A call is one small write and one small reply: Nagle's delay would only add
 * latency. TCP keepalive keeps a quiet connection's path alive; a framed
 * connection turns it on only once it could be quiet (parked between calls,
 * or carrying a call without heartbeats), which a connection used for one
 * call never is: its setting would be system calls spent for nothing. With
 * `onRead`, the socket reads into the shared buffer instead of emitting data.
 */
function openSocket(address: Address, keepAlive: boolean, onRead?: (bytes: Uint8Array) => void): Socket {
  const options = { host: address.host, port: address.port, noDelay: true, keepAlive, keepAliveInitialDelay: TCP_KEEPALIVE_DELAY_MS };
  if (onRead === undefined) return connect(options);
  const onread = {
    buffer: readBuffer,
    callback: (length: number): boolean => {
      onRead(readBytes.subarray(0, length));
      return true;
    },
  };
  return connect({ ...options, onread });
}

/** Where a framed connection returns after a reply that lets it stay open. */
export interface ConnectionHome {
  /** Takes the connection back for another call; false means close it. */
  release(connection: FramedConnection): boolean;
  /** The connection closed while idle. */
  closedWhileIdle(connection: FramedConnection): void;
}

/** What a framed connection needs to know besides its address. */
export interface FramedConnectionSettings {
  readonly maxPayloadBytes: number;
  readonly memory: ProtocolMemory;
  /** How long a probing connection waits for the HELLO (ms). */
  readonly helloTimeoutMs: number;
}

/**
 * A framed-protocol connection to one replica. It carries one call at a time
 * and, when the handler answers with `keepAlive`, goes back to its home pool
 * for the next call. Listeners are attached once, for the socket's life.
 *
 * It speaks the version its replica is known to speak, sending the preface
 * and the first call together; to a replica not known yet it sends the
 * version 2 preface alone and writes the call only once the handler's HELLO
 * came (PROTOCOL.md section 4), so that a 2017 function, which waits for
 * the caller to half-close and answers no preface, never receives a call it
 * cannot read.
 */
export class FramedConnection {
  readonly address: Address;
  private readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private readonly home: ConnectionHome;
  private readonly settings: FramedConnectionSettings;
  /** The version spoken once known; undefined while a probe waits for the HELLO. */
  private version: ProtocolVersion | undefined;
  /** Epoch ms by which the HELLO must come; infinite once it came, or when none is awaited. */
  private helloBy = Number.POSITIVE_INFINITY;
  private connected = false;
  private closed = false;
  private socketError: unknown;
  private callsStarted = 0;
  private request: AttemptRequest | undefined;
  private resolveAttempt: ((outcome: AttemptOutcome) => void) | undefined;
  /**
   * The deadline, heartbeat-silence and idle limits. It never keeps the
   * process alive: during a call the socket does, and a parked connection
   * must not.
   */
  private readonly alarm = new Alarm(() => this.onTimer());
  /** Epoch ms by which a new connection must be established. */
  private connectBy = Number.POSITIVE_INFINITY;
  /** Epoch ms at which a parked connection is closed; infinite while a call runs. */
  private idleUntil = Number.POSITIVE_INFINITY;
  private lastByteAt = 0;
  private silenceLimitMs = 0;
  /** Whether the handler sent any frame for the current call: its proof that the call was delivered. */
  private accepted = false;
  /** Whether a frame answering the current call came (a heartbeat, its result or error), the connection's HELLO aside. */
  private answered = false;
  private keepAliveOn = false;

  /** `version`: the one the replica at `address` is known to speak, or undefined to find out. */
  constructor(address: Address, settings: FramedConnectionSettings, home: ConnectionHome, version: ProtocolVersion | undefined) {
    this.address = address;
    this.home = home;
    this.settings = settings;
    this.version = version;
    // A version 2 handler's first frame is its HELLO (or a version 1 handler's refusal of the version 2 preface).
    this.decoder = new FrameDecoder({ maxPayloadBytes: settings.maxPayloadBytes, reusedChunks: true, version: version ?? 2, expectHello: version !== 1 });
    this.alarm.unref();
    this.socket = openSocket(address, false, this.onData);
    this.socket.on("connect", this.onConnect);
    this.socket.on("error", this.onError);
    this.socket.on("close", this.onClose);
  }

  /** True when the connection can carry another call. */
  get usable(): boolean {
    return !this.closed && !this.socket.destroyed && !this.socket.readableEnded && this.socket.writable;
  }

  run(request: AttemptRequest): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      const reused = this.callsStarted > 0;
      this.callsStarted += 1;
      this.request = request;
      this.resolveAttempt = resolve;
      this.accepted = false;
      this.answered = false;
      this.idleUntil = Number.POSITIVE_INFINITY;
      this.lastByteAt = Date.now();
      this.connectBy = this.lastByteAt + request.connectTimeoutMs;
      this.silenceLimitMs = request.heartbeatIntervalMs > 0 ? request.heartbeatIntervalMs * HEARTBEAT_MISSES_BEFORE_DEAD : 0;
      request.signal?.addEventListener("abort", this.onAbort);
      if (request.heartbeatIntervalMs === 0) this.keepQuietPathAlive();
      const version = this.version;
      if (version === undefined) this.helloBy = this.lastByteAt + this.settings.helloTimeoutMs;
      this.armTimer(this.lastByteAt);
      if (reused) {
        this.socket.ref();
        this.socket.write(callFrame(request, version as ProtocolVersion));
      } else if (version === undefined) {
        // A probe: the preface alone; the call follows the HELLO.
        this.socket.write(PREFACE);
      } else {
        // Corked, the preface and the call leave in one writev once connected.
        this.socket.cork();
        this.socket.write(prefaceFor(version));
        this.socket.write(callFrame(request, version));
        this.socket.uncork();
      }
    });
  }

  /** Parks the connection between calls: it must never keep the process alive. */
  park(idleTimeoutMs: number): void {
    this.socket.unref();
    this.keepQuietPathAlive();
    const now = Date.now();
    this.idleUntil = now + idleTimeoutMs;
    this.alarm.setBy(this.idleUntil, now);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private keepQuietPathAlive(): void {
    if (this.keepAliveOn) return;
    this.keepAliveOn = true;
    this.socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.lastByteAt = Date.now();
    if (this.version === undefined && this.request !== undefined) {
      this.helloBy = this.lastByteAt + this.settings.helloTimeoutMs;
      this.armTimer(this.lastByteAt);
    }
  };

  /**
   * The handler's HELLO: the replica speaks version 2. A probe now writes
   * its call, unless the HELLO shows the call would be refused anyway
   * (another function's replica at a stale address, or a handler that wants
   * signed calls): then nothing was sent and the call goes elsewhere or fails.
   */
  private onHello(request: AttemptRequest, hello: HelloFrame): void {
    const waiting = this.version === undefined;
    this.version = 2;
    this.helloBy = Number.POSITIVE_INFINITY;
    this.settings.memory.learnVersion(this.address.key, 2);
    this.settings.memory.sawHello(request.name);
    if (!waiting) return;
    const key = this.address.key;
    if (hello.functionName !== undefined && hello.functionName !== request.name) {
      this.fail(
        new FunkerError("connection_failed", `${key} serves "${hello.functionName}", not "${request.name}" (a stale address; the call was not sent)`, { mayHaveRun: false }),
        true,
      );
      return;
    }
    if (hello.authRequired && request.sign === undefined) {
      this.fail(new FunkerError("unauthenticated", `${key} accepts only signed calls, and this client has no secret (the call was not sent)`, { mayHaveRun: false }), false);
      return;
    }
    this.socket.write(callFrame(request, 2));
  }

  /**
   * A version 1 handler refused the version 2 preface, before reading any
   * call (PROTOCOL.md section 11): remember the address speaks version 1,
   * and deliver the call again, in version 1, on a new connection.
   */
  private onVersion1(data: unknown): void {
    const supported = (data as { supportedVersions?: unknown } | undefined)?.supportedVersions;
    this.settings.memory.learnVersion(this.address.key, 1);
    this.fail(
      new FunkerError("connection_failed", `${this.address.key} speaks protocol version 1 only (it supports ${JSON.stringify(supported)}); the call goes again in version 1`, {
        mayHaveRun: false,
      }),
      false,
    );
  }

  /**
   * No HELLO in time after the preface: a 2017 function (it waits for the
   * caller to half-close), or a stalled replica. Either way it has read
   * nothing it could run, so the call was not delivered, and goes to
   * another connection; after a second silent probe in a row an "auto"
   * call is delivered in the 2017 format (each probed 2017 replica is lost:
   * it reads the preface at the close and fails to parse it). A call that
   * pins the framed protocol, or is signed, fails instead.
   */
  private onNoHello(request: AttemptRequest, now: number): void {
    const key = this.address.key;
    const waited = this.settings.helloTimeoutMs;
    if (request.protocol === "auto" && request.sign === undefined) {
      const legacy = this.settings.memory.sawSilentProbe(request.name, key, waited, now);
      const next = legacy ? `"${request.name}" is taken for a 2017 function and called in the 2017 format` : "another connection is tried";
      this.fail(new FunkerError("connection_failed", `${key} did not answer the framed preface within ${waited} ms: ${next} (the call was not sent)`, { mayHaveRun: false }), true);
      return;
    }
    const why = request.sign !== undefined ? "a signed call is never sent in the 2017 format, which cannot carry a signature" : "this call pins the framed protocol";
    this.fail(
      new FunkerError(
        "protocol_error",
        `${key} did not answer the framed preface within ${waited} ms: it does not speak Funker's framed protocol (is it a 2017 function?); ${why}; the call was not sent`,
        { mayHaveRun: false },
      ),
      true,
    );
  }

  private readonly onError = (error: Error): void => {
    this.socketError ??= error;
  };

  private readonly onData = (chunk: Uint8Array): void => {
    const request = this.request;
    if (request === undefined) {
      // Bytes while no call is in flight break the protocol; the connection cannot be trusted.
      this.socket.destroy();
      return;
    }
    this.lastByteAt = Date.now();
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(afterSendError(error), false);
      return;
    }
    for (let index = 0; index < frames.length; index += 1) {
      if (this.request === undefined) break;
      const frame = frames[index] as Frame;
      const last = index === frames.length - 1;
      this.onFrame(request, frame, last && this.decoder.bufferedBytes === 0);
    }
  };

  private onFrame(request: AttemptRequest, frame: Frame, nothingFollows: boolean): void {
    const wasAccepted = this.accepted;
    this.accepted = true;
    if (frame.type === "hello") {
      this.onHello(request, frame);
      return;
    }
    this.answered = true;
    switch (frame.type) {
      case "heartbeat":
        if (frame.id !== request.id) this.fail(wrongId(frame.id, request.id), false);
        return;
      case "result": {
        if (frame.id !== request.id) {
          this.fail(wrongId(frame.id, request.id), false);
          return;
        }
        let value: unknown;
        try {
          value = decodeJson(frame.body, "protocol_error", "result");
        } catch (error) {
          this.fail(afterSendError(error), false);
          return;
        }
        this.finish({ ok: true, value }, frame.keepAlive && nothingFollows);
        return;
      }
      case "error":
        if (this.decoder.version === 1 && this.version !== 1) {
          this.onVersion1(frame.error.data);
          return;
        }
        // An empty id: the handler failed before it could read the call's id.
        if (frame.id !== request.id && frame.id !== "") {
          this.fail(wrongId(frame.id, request.id), false);
          return;
        }
        // Whether the function ran is the handler's word, not guessed from the
        // code: a refused error never started it, and neither did an error
        // that came before the acceptance of a connection's first call.
        this.finish(
          {
            ok: false,
            error: FunkerError.fromWire(frame.error, { mayHaveRun: !frame.refused && (wasAccepted || this.callsStarted > 1) }),
            addressDead: false,
          },
          frame.keepAlive && nothingFollows,
        );
        return;
      case "call":
      case "cancel":
        this.fail(new FunkerError("protocol_error", `the handler sent a ${frame.type} frame, which only callers send`, { mayHaveRun: true }), false);
        return;
      default: {
        const unexpected: never = frame;
        throw new Error(`unhandled frame ${String(unexpected)}`);
      }
    }
  }

  private readonly onClose = (): void => {
    this.closed = true;
    this.alarm.stop();
    const request = this.request;
    if (request === undefined) {
      this.home.closedWhileIdle(this);
      return;
    }
    const key = this.address.key;
    if (this.connected && !this.accepted && this.callsStarted === 1 && this.decoder.bufferedBytes === 0) {
      // A handler accepts the first call on a connection with a frame before
      // it runs the function, so a new connection that ends before any frame
      // never reached a function: typically a single-shot replica that closed
      // its listener with this connection still in its accept queue. Safe to
      // deliver elsewhere, and the address is spent. (A kept connection that
      // the handler closes as idle says so with a refused error first.)
      const reason = this.socketError instanceof Error ? this.socketError.message : "closed";
      this.finish(
        {
          ok: false,
          addressDead: true,
          error: new FunkerError("connection_failed", `${key} ended the connection before accepting the call (${reason})`, {
            cause: this.socketError,
            mayHaveRun: false,
          }),
        },
        false,
      );
    } else if (this.socketError !== undefined) {
      const phase = !this.connected ? "before-send" : this.answered || this.decoder.bufferedBytes > 0 ? "after-send" : "unanswered";
      const failure = failureFromSocketError(this.socketError, phase, key);
      this.finish({ ok: false, ...failure }, false);
    } else if (!this.connected) {
      this.fail(new FunkerError("connection_failed", `the connection to ${key} closed before it was established`, { mayHaveRun: false }), false);
    } else if (this.decoder.bufferedBytes > 0) {
      this.fail(
        new FunkerError("handler_crashed", `${key} closed the connection in the middle of a reply (${this.decoder.bufferedBytes} bytes of a frame received)`, {
          mayHaveRun: true,
        }),
        false,
      );
    } else {
      this.fail(new FunkerError("handler_crashed", `${key} closed the connection without a reply`, { mayHaveRun: true }), false);
    }
  };

  private readonly onAbort = (): void => {
    const request = this.request;
    if (request === undefined) return;
    // A probe has sent only the preface until the HELLO came.
    const sent = this.connected && this.version !== undefined;
    this.fail(
      new FunkerError("cancelled", `the call to "${request.name}" was cancelled`, { mayHaveRun: sent, cause: request.signal?.reason }),
      false,
      sent ? "cancelled by the caller" : undefined,
    );
  };

  private onTimer(): void {
    const request = this.request;
    const now = Date.now();
    if (request === undefined) {
      if (now >= this.idleUntil) this.socket.destroy();
      else if (this.idleUntil !== Number.POSITIVE_INFINITY) this.alarm.setBy(this.idleUntil, now);
      return;
    }
    if (!this.connected && now >= this.connectBy && now < request.deadline) {
      this.fail(connectTimedOut(this.address, request), true);
      return;
    }
    if (this.connected && now >= this.helloBy && now < request.deadline) {
      this.onNoHello(request, now);
      return;
    }
    if (now >= request.deadline) {
      const sent = this.connected && this.version !== undefined;
      this.fail(
        new FunkerError("deadline_exceeded", `the call to "${request.name}" passed its deadline ${sent ? "waiting for a reply" : "while connecting"}`, {
          mayHaveRun: sent,
        }),
        false,
        sent ? "deadline exceeded" : undefined,
      );
      return;
    }
    if (this.connected && this.silenceLimitMs > 0 && now - this.lastByteAt >= this.silenceLimitMs) {
      this.fail(
        new FunkerError(
          "handler_crashed",
          `${this.address.key} sent nothing for ${now - this.lastByteAt} ms (${HEARTBEAT_MISSES_BEFORE_DEAD} heartbeat intervals of ${request.heartbeatIntervalMs} ms): the handler is presumed dead`,
          { mayHaveRun: true },
        ),
        false,
        "no heartbeat",
      );
      return;
    }
    this.armTimer(now);
  }

  private armTimer(now: number): void {
    const request = this.request as AttemptRequest;
    const silenceAt = this.connected && this.silenceLimitMs > 0 ? this.lastByteAt + this.silenceLimitMs : Number.POSITIVE_INFINITY;
    let wakeAt = Math.min(request.deadline, silenceAt, this.helloBy);
    if (!this.connected) wakeAt = Math.min(wakeAt, this.connectBy);
    // Before the connection is up, check again at the first heartbeat limit after it could be.
    if (!this.connected && this.silenceLimitMs > 0) wakeAt = Math.min(wakeAt, now + this.silenceLimitMs);
    this.alarm.setBy(wakeAt, now);
  }

  private fail(error: FunkerError, addressDead: boolean, cancelReason?: string): void {
    this.finish({ ok: false, error, addressDead }, false, cancelReason);
  }

  private finish(outcome: AttemptOutcome, keepAlive: boolean, cancelReason?: string): void {
    const resolve = this.resolveAttempt;
    const request = this.request;
    if (resolve === undefined || request === undefined) return;
    this.resolveAttempt = undefined;
    this.request = undefined;
    request.signal?.removeEventListener("abort", this.onAbort);
    if (!(keepAlive && this.usable && this.home.release(this))) {
      if (cancelReason !== undefined && this.usable) {
        // Small writes go to the kernel at once, so the cancel frame leaves
        // before the close; if it cannot, the close tells the handler as much.
        this.socket.write(encodeCancel(request.id, cancelReason, { version: this.version ?? 2 }));
      }
      this.socket.destroy();
    }
    resolve(outcome);
  }
}

/** The CALL frame of an attempt, signed as it is written when the client has keys for the function. */
function callFrame(request: AttemptRequest, version: ProtocolVersion): Uint8Array {
  const header = request.sign === undefined || version === 1 ? request.header : { ...request.header, auth: request.sign() };
  return writeCallFrame(header, request.body, version);
}

function wrongId(received: string, expected: string): FunkerError {
  return new FunkerError("protocol_error", `the handler answered for call "${received}", not for this call ("${expected}")`, {
    mayHaveRun: true,
  });
}

/**
 * One call in the 2017 wire format: write the arguments, half-close, read
 * the reply until the handler closes. No connection is ever reused.
 */
export function runLegacy(address: Address, request: AttemptRequest, maxPayloadBytes: number, memory: ProtocolMemory): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    // A 2017 call carries no heartbeats: its connection may be quiet for as long as the function runs.
    const socket = openSocket(address, true);
    const collector = new LegacyBodyCollector(maxPayloadBytes);
    let connected = false;
    let done = false;
    let socketError: unknown;
    let timer: NodeJS.Timeout | undefined;

    const finish = (outcome: AttemptOutcome): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const fail = (error: FunkerError): void => finish({ ok: false, error, addressDead: false });
    const onAbort = (): void =>
      fail(new FunkerError("cancelled", `the call to "${request.name}" was cancelled`, { mayHaveRun: connected, cause: request.signal?.reason }));
    const connectBy = Date.now() + request.connectTimeoutMs;
    const onTimer = (): void => {
      timer = undefined;
      const now = Date.now();
      if (!connected && now >= connectBy && now < request.deadline) {
        finish({ ok: false, error: connectTimedOut(address, request), addressDead: true });
        return;
      }
      const remaining = request.deadline - now;
      if (remaining > 0) {
        timer = setTimeout(onTimer, timerDelay(connected ? remaining : Math.min(remaining, connectBy - now)));
        return;
      }
      fail(
        new FunkerError("deadline_exceeded", `the call to "${request.name}" passed its deadline ${connected ? "waiting for a reply" : "while connecting"}`, {
          mayHaveRun: connected,
        }),
      );
    };

    socket.on("connect", () => {
      connected = true;
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        collector.push(chunk);
      } catch (error) {
        fail(afterSendError(error));
      }
    });
    socket.on("error", (error) => {
      socketError ??= error;
    });
    socket.on("end", () => {
      let reply;
      try {
        reply = decodeLegacyReply(collector.bytes());
      } catch (error) {
        fail(afterSendError(error));
        return;
      }
      // A reply with the legacy mark came from a Funker handler; one without it, from a 2017 function.
      if (request.protocol === "auto") memory.sawLegacyReply(request.name, reply.marked, Date.now());
      finish(reply.ok ? { ok: true, value: reply.value } : { ok: false, error: afterSendError(reply.error, "handler_crashed"), addressDead: false });
    });
    socket.on("close", () => {
      if (done) return;
      if (socketError !== undefined) {
        finish({ ok: false, ...failureFromSocketError(socketError, connected ? "after-send" : "before-send", address.key) });
      } else {
        fail(new FunkerError("handler_crashed", `${address.key} closed the connection without a reply`, { mayHaveRun: connected }));
      }
    });
    request.signal?.addEventListener("abort", onAbort);
    timer = setTimeout(onTimer, timerDelay(Math.min(request.deadline, connectBy) - Date.now()));
    // An "auto" call marks its request, so that a Funker handler marks its reply (PROTOCOL.md section 4.1).
    socket.end(request.protocol === "auto" ? withLegacyMark(request.body) : request.body);
  });
}
