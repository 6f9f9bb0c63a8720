import type { Socket } from "node:net";
import {
  FrameDecoder,
  FunkerError,
  LegacyBodyCollector,
  MIN_HEARTBEAT_INTERVAL_MS,
  decodeJson,
  detectWireMode,
  encodeError,
  encodeHeartbeat,
  encodeLegacyError,
  hasLegacyMark,
  withLegacyMark,
} from "@funker/protocol";
import { encodeResultBody } from "@funker/protocol/internal";
import type { CallFrame, Frame, ProtocolVersion, WireError, WireMode } from "@funker/protocol";
import { Alarm, TCP_KEEPALIVE_DELAY_MS } from "@funker/node-utils";
import type { CallDescription } from "./context.js";
import { CallControl, noMetadata } from "./context.js";
import { encodeFunctionResult, invoke, thrownToWire, validateArguments } from "./invoke.js";
import type { ConnectionHost } from "./host.js";
import { helloFor } from "./hello.js";
import { HARD_TIMEOUT_MARGIN_MS } from "./hard-timeout.js";
import { LINGER_MS } from "./linger.js";
import type { ResolvedOptions } from "./options.js";
import { ServerSpan } from "./tracing.js";

type Phase = "reading" | "calling" | "idle" | "closing";

interface ActiveCall {
  readonly description: CallDescription;
  readonly control: CallControl;
  /** When the call started to arrive (the timeout counts from there). */
  readonly startedAt: number;
  /** Epoch ms; infinite when the call sends no heartbeats. */
  nextHeartbeatAt: number;
  readonly heartbeatIntervalMs: number;
  /** Made when first needed: most calls end before their first heartbeat. */
  heartbeatFrame: Uint8Array | undefined;
}

/**
 * Legacy callers send no call id; the handler makes one up for its logs.
 * A per-process random prefix and a counter are unique enough for that, and
 * cost nothing at start-up (`node:crypto` loads a dozen internal modules).
 */
const legacyIdPrefix = `legacy-${Math.floor(Math.random() * 2 ** 48).toString(36)}`;
let legacyIdCounter = 0;
function nextLegacyId(): string {
  legacyIdCounter = (legacyIdCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${legacyIdPrefix}-${legacyIdCounter.toString(36)}`;
}

/**
 * Serves one accepted socket: tells the wire mode from the first byte, reads
 * the call, runs the function and replies; in reuse mode a framed caller may
 * then send another call on the same connection. Every failure becomes a
 * typed error reply; nothing a caller sends can throw out of here.
 */
export function serveConnection(socket: Socket, host: ConnectionHost, acceptedAt = Date.now()): Connection {
  return new Connection(socket, host, acceptedAt);
}

export class Connection {
  /** Resolves once the socket has closed. */
  readonly closed: Promise<void>;
  private phase: Phase = "reading";
  private mode: WireMode | undefined;
  private decoder: FrameDecoder | undefined;
  private collector: LegacyBodyCollector | undefined;
  /** When the call being read started to arrive: accept time, or the first byte on a kept connection. */
  private readStartedAt: number;
  /** Epoch ms at which the read, idle or linger limit of the current phase passes (a call's limits are in `active`). */
  private phaseDueAt: number;
  private readonly alarm = new Alarm(() => this.onAlarm());
  private active: ActiveCall | undefined;
  private readEnded = false;
  /** Calls started on this connection: only the first is accepted with a heartbeat (PROTOCOL.md 6.4). */
  private callsStarted = 0;
  private keepAliveOn = false;
  private helloSent = false;
  /** A Funker caller's legacy request (it starts with the legacy mark): the reply is marked too, so it learns this handler speaks framed. */
  private legacyMarked = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
    acceptedAt: number,
  ) {
    this.readStartedAt = acceptedAt;
    const now = Date.now();
    this.phaseDueAt = now + host.options.readTimeoutMs;
    this.alarm.setBy(this.phaseDueAt, now);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("error", () => this.onGone());
    socket.on("close", () => this.onClose());
  }

  /**
   * Closes a kept connection that has no call in progress (idle timeout, or
   * shutdown). It says so first, with a refused ERROR: a call the caller sent
   * at this moment is then known not to have run, and is delivered elsewhere.
   */
  closeIfIdle(): void {
    if (this.phase === "idle") this.finish(encodeError("", goingAway, { refused: true, version: this.version }));
  }

  /** No byte has come since the connection was accepted. */
  get silent(): boolean {
    return this.phase === "reading" && this.mode === undefined;
  }

  /** A kept connection between calls. */
  get idleBetweenCalls(): boolean {
    return this.phase === "idle";
  }

  /**
   * Closes a connection that holds no call, to make room for another: a kept
   * one as `closeIfIdle` does, a silent one at once (it has sent nothing to
   * answer, and a framed caller whose preface was on its way sees the
   * connection end before the HELLO, so it knows its call was not delivered).
   */
  shed(): void {
    if (this.silent) this.socket.destroy();
    else this.closeIfIdle();
  }

  /** Aborts the call in progress, if any, with `reason` (at the end of a shutdown grace period, or on a process fault). */
  abortCall(reason: FunkerError): void {
    this.active?.control.abort(reason);
  }

  /** Ends the connection now, whatever its state. */
  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    switch (this.phase) {
      case "closing":
        return;
      case "idle":
        this.startReading();
        break;
      case "reading":
      case "calling":
        break;
    }
    if (this.mode === undefined) {
      this.mode = detectWireMode(chunk);
      if (this.mode === "framed") this.decoder = new FrameDecoder({ expectPreface: true, maxPayloadBytes: this.host.options.maxPayloadBytes });
      else this.collector = new LegacyBodyCollector(this.host.options.maxPayloadBytes);
    }
    if (this.decoder !== undefined) {
      let frames: Frame[];
      try {
        frames = this.decoder.push(chunk);
      } catch (error) {
        this.failConnection(FunkerError.from(error, "protocol_error"));
        return;
      }
      // Version 2: the HELLO leaves as soon as the preface is read, before
      // any call on the connection is looked at (PROTOCOL.md section 5.5).
      if (!this.helloSent && this.decoder.version === 2 && this.host.acceptedForIt !== true) this.sendHello();
      for (const frame of frames) {
        this.onFrame(frame);
        if ((this.phase as Phase) === "closing") return;
      }
      return;
    }
    try {
      this.collector?.push(chunk);
    } catch (error) {
      this.failConnection(FunkerError.from(error, "payload_too_large"));
    }
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case "call":
        if (this.phase === "calling") {
          this.failConnection(new FunkerError("protocol_error", "a second call arrived while one was in progress on this connection"));
          return;
        }
        this.startFramedCall(frame);
        return;
      case "cancel":
        // A cancel for a call already answered is a normal race: ignore it.
        if (this.active !== undefined && frame.id === this.active.description.id) {
          this.active.control.abort(
            new FunkerError("cancelled", frame.reason === undefined ? "the caller cancelled the call" : `the caller cancelled the call: ${frame.reason}`),
          );
        }
        return;
      case "result":
      case "error":
      case "heartbeat":
      case "hello":
        this.failConnection(new FunkerError("protocol_error", `a caller may not send a ${frame.type} frame`));
        return;
      default: {
        const unexpected: never = frame;
        this.failConnection(new FunkerError("protocol_error", `unexpected frame ${String(unexpected)}`));
      }
    }
  }

  private onEnd(): void {
    this.readEnded = true;
    switch (this.phase) {
      case "calling":
        // Framed callers keep their side open until the reply; an end means they left.
        if (this.mode === "framed") this.active?.control.abort(new FunkerError("cancelled", "the caller disconnected"));
        return;
      case "idle":
        this.finish(undefined);
        return;
      case "closing":
        return;
      case "reading":
        break;
    }
    if (this.mode === "framed") {
      try {
        this.decoder?.end();
      } catch (error) {
        this.failConnection(FunkerError.from(error, "protocol_error"));
        return;
      }
      // Preface only, or a clean end between calls: nothing to answer.
      this.finish(undefined);
      return;
    }
    const body = this.collector === undefined ? new Uint8Array(0) : this.collector.bytes();
    this.legacyMarked = hasLegacyMark(body);
    this.collector = undefined;
    const description: CallDescription = {
      id: nextLegacyId(),
      functionName: undefined,
      protocol: "legacy",
      deadline: Number.POSITIVE_INFINITY,
      traceparent: undefined,
      tracestate: undefined,
      metadata: noMetadata,
    };
    if (this.host.authenticator !== undefined) {
      this.refuse(description, new FunkerError("unauthenticated", "this function accepts only signed calls, and the 2017 format carries no signature", { mayHaveRun: false }));
      return;
    }
    this.startCall(description, body, 0);
  }

  /** A call refused before it started: answered, logged, and its function never run. */
  private refuse(description: CallDescription, error: FunkerError): void {
    this.phase = "calling";
    this.callsStarted += 1;
    this.reply(description, this.readStartedAt, undefined, error.toWire(), false);
  }

  private onGone(): void {
    this.active?.control.abort(new FunkerError("cancelled", "the caller disconnected"));
  }

  private onClose(): void {
    this.onGone();
    this.phase = "closing";
    this.alarm.stop();
  }

  /** A kept connection's next call has started to arrive. */
  private startReading(): void {
    const now = Date.now();
    this.phase = "reading";
    this.readStartedAt = now;
    this.phaseDueAt = now + this.host.options.readTimeoutMs;
    this.alarm.setBy(this.phaseDueAt, now);
  }

  /** Whichever limit is due: the read timeout, the call's deadline or heartbeat, the idle timeout, or the linger. */
  private onAlarm(): void {
    const now = Date.now();
    if (this.phase === "calling") {
      const call = this.active;
      if (call === undefined) return;
      if (now >= call.description.deadline) {
        call.control.abort(new FunkerError("deadline_exceeded", `the call passed its deadline (${deadlineSource(call.description, call.startedAt, this.host.options)})`));
        return;
      }
      if (now >= call.nextHeartbeatAt) {
        if (this.socket.writable) this.socket.write((call.heartbeatFrame ??= encodeHeartbeat(call.description.id, { version: this.version })));
        call.nextHeartbeatAt = now + call.heartbeatIntervalMs;
      }
      this.alarm.setBy(Math.min(call.description.deadline, call.nextHeartbeatAt), now);
      return;
    }
    if (now < this.phaseDueAt) {
      this.alarm.setBy(this.phaseDueAt, now);
      return;
    }
    switch (this.phase) {
      case "reading":
        // Timers run before the event loop polls the sockets again: after a long block (a large call parsed on
        // another connection) bytes that arrived in time may still be unread. One poll first, then decide.
        setImmediate(() => this.onReadTimeout());
        return;
      case "idle":
        this.closeIfIdle();
        return;
      case "closing":
        this.socket.destroy();
        return;
    }
  }

  private onReadTimeout(): void {
    // The call arrived meanwhile, or a kept connection's next call started reading with a new limit.
    if (this.phase !== "reading" || Date.now() < this.phaseDueAt) return;
    this.failConnection(
      new FunkerError("deadline_exceeded", `the call did not arrive within the read timeout of ${this.host.options.readTimeoutMs} ms`, {
        mayHaveRun: false,
      }),
    );
  }

  private startFramedCall(frame: CallFrame): void {
    const authenticator = this.host.authenticator;
    if (authenticator !== undefined) {
      const refusal =
        this.version === 2
          ? authenticator.check(frame, Date.now())
          : new FunkerError("unauthenticated", "this function accepts only signed calls, and protocol version 1 carries no signature", { mayHaveRun: false });
      if (refusal !== undefined) {
        this.refuse(
          { id: frame.id, functionName: frame.function, protocol: "framed", deadline: frame.deadline, traceparent: frame.traceparent, tracestate: frame.tracestate, metadata: noMetadata },
          refusal,
        );
        return;
      }
    }
    this.startCall(
      {
        id: frame.id,
        functionName: frame.function,
        protocol: "framed",
        deadline: frame.deadline,
        traceparent: frame.traceparent,
        tracestate: frame.tracestate,
        metadata: frame.metadata ?? noMetadata,
      },
      frame.body,
      frame.heartbeatIntervalMs ?? 0,
    );
  }

  private startCall(description: CallDescription, body: Uint8Array, heartbeatIntervalMs: number): void {
    this.phase = "calling";
    const startedAt = this.readStartedAt;
    const { options } = this.host;
    this.callsStarted += 1;
    // A reuse-mode call without heartbeats (a 2017 caller's, or a framed one
    // that asked for none) can leave its connection quiet for as long as the
    // function runs: TCP keepalive keeps the path alive and notices a caller
    // that vanished. Calls with heartbeats, and idle kept connections (whose
    // idle timeout is shorter than an overlay's idle drop), need none, so a
    // connection used for one quick call spends no system calls on it.
    if (heartbeatIntervalMs === 0 && options.mode === "reuse" && !this.keepAliveOn) {
      this.keepAliveOn = true;
      this.socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS);
    }
    if (description.protocol === "framed" && options.name !== undefined && description.functionName !== options.name) {
      const error = new FunkerError("not_found", `this replica serves "${options.name}", not "${description.functionName ?? ""}"`);
      this.reply(description, startedAt, undefined, error.toWire(), false);
      return;
    }
    if (!this.host.tryStartCall(description)) {
      const error = new FunkerError("unavailable", "the replica is busy with other calls; try another replica");
      this.reply(description, startedAt, undefined, error.toWire(), false);
      return;
    }
    void this.runCall(description, body, heartbeatIntervalMs, startedAt);
  }

  private async runCall(description: CallDescription, body: Uint8Array, heartbeatIntervalMs: number, startedAt: number): Promise<void> {
    const { options, fn } = this.host;
    description.deadline = Math.min(description.deadline, startedAt + options.timeoutMs);
    const control = new CallControl();
    const now = Date.now();
    const sendsHeartbeats = description.protocol === "framed" && heartbeatIntervalMs > 0;
    const intervalMs = Math.max(heartbeatIntervalMs, MIN_HEARTBEAT_INTERVAL_MS);
    // Version 1 accepts a connection's first call with a heartbeat; version 2's HELLO has done that.
    const acceptance =
      description.protocol === "framed" && this.callsStarted === 1 && this.version === 1 && this.host.acceptedForIt !== true
        ? encodeHeartbeat(description.id, { version: 1 })
        : undefined;
    const call: ActiveCall = {
      description,
      control,
      startedAt,
      nextHeartbeatAt: sendsHeartbeats ? now + intervalMs : Number.POSITIVE_INFINITY,
      heartbeatIntervalMs: intervalMs,
      heartbeatFrame: acceptance,
    };
    this.active = call;
    const remaining = description.deadline - now;
    const span = ServerSpan.start(description, options.name);
    let resultBody: Uint8Array | undefined;
    let error: WireError | undefined;
    let inFunction = false;
    let started = false;
    // The slot is the host's until the function's work is over, which an abort does not hasten.
    let holdsSlot = true;
    let overrun: NodeJS.Timeout | undefined;
    const disarm = this.armHardTimeout(description, startedAt);
    const endBody = (): void => {
      if (!holdsSlot) return;
      holdsSlot = false;
      clearTimeout(overrun);
      this.host.endCall(description);
    };
    try {
      if (remaining <= 0) throw new FunkerError("deadline_exceeded", "the call arrived after its deadline");
      this.alarm.setBy(Math.min(description.deadline, call.nextHeartbeatAt), now);
      let args = decodeJson(body, "bad_arguments", "arguments");
      if (options.schema !== undefined) {
        const schema = options.schema;
        // An asynchronous validator must not outlive the deadline, a cancel or a disconnect.
        args = await new Promise<unknown>((resolve, reject) => {
          control.onAbort = reject;
          validateArguments(schema, args).then(resolve, reject);
        });
        control.onAbort = undefined;
      }
      if (control.aborted) throw control.reason;
      // The first call on a connection is accepted before its function runs:
      // a caller whose new connection breaks before any frame knows the
      // function did not run (a single-shot replica resets the connections
      // left in its accept queue when it closes its listener), so it may
      // safely try elsewhere. A later call on a kept connection needs no
      // acceptance: the handler either runs it, refuses it with a refused
      // ERROR, or closed the connection with one first (PROTOCOL.md 6.4).
      if (acceptance !== undefined) this.socket.write(acceptance);
      inFunction = true;
      started = true;
      const value = await (span === undefined ? invoke(fn, args, description, control, endBody) : span.run(() => invoke(fn, args, description, control, endBody)));
      inFunction = false;
      resultBody = encodeFunctionResult(value, options.maxPayloadBytes);
    } catch (thrown) {
      // Errors raised by Funker itself carry no stack: it would show only Funker's internals.
      const fromFunction = inFunction && thrown !== control.reason;
      error = thrown instanceof FunkerError && !fromFunction ? thrown.toWire() : thrownToWire(thrown, options.exposeStacks);
    } finally {
      disarm();
      this.active = undefined;
      if (!started) endBody();
      else if (holdsSlot && this.host.bodyOverran !== undefined) {
        // The caller is answered; the function, deaf to its signal, is not done.
        const onOverrun = this.host.bodyOverran.bind(this.host);
        overrun = setTimeout(() => onOverrun(description, control.reason), options.drainTimeoutMs);
        overrun.unref();
      }
    }
    span?.end(error);
    this.reply(description, startedAt, resultBody, error, true, !started);
  }

  /**
   * With `hardTimeout`: the reply a held event loop could not send, encoded
   * now and left with something outside it, which sends it
   * `HARD_TIMEOUT_MARGIN_MS` past the deadline and kills the process.
   */
  private armHardTimeout(description: CallDescription, startedAt: number): () => void {
    const hardTimeout = this.host.hardTimeout;
    if (hardTimeout === undefined) return noDisarm;
    const error: WireError = {
      code: "deadline_exceeded",
      name: "FunkerError",
      message: `the call passed its deadline (${deadlineSource(description, startedAt, this.host.options)}) while the function held the process, which was killed`,
    };
    let bytes: Uint8Array;
    if (description.protocol === "legacy") {
      bytes = encodeLegacyError(error);
      if (this.legacyMarked) bytes = withLegacyMark(bytes);
    } else {
      bytes = encodeError(description.id, error, { version: this.version });
    }
    return hardTimeout.arm(this.socket, description.deadline + HARD_TIMEOUT_MARGIN_MS, bytes);
  }

  /**
   * Writes the reply with one write, then keeps the connection for the next
   * call or closes it. `refused`: the function never started, and the error
   * says so, so that the caller may deliver the call elsewhere.
   */
  private reply(
    description: CallDescription,
    startedAt: number,
    resultBody: Uint8Array | undefined,
    error: WireError | undefined,
    served: boolean,
    refused = !served,
  ): void {
    try {
      if (this.phase === "closing" || this.socket.destroyed) return;
      if (description.protocol === "legacy") {
        const reply = resultBody ?? encodeLegacyError(error as WireError);
        this.finish(this.legacyMarked ? withLegacyMark(reply) : reply);
        return;
      }
      const keepAlive = !this.readEnded && this.host.mayKeepConnection();
      const version = this.version;
      const bytes =
        resultBody !== undefined ? encodeResultBody(description.id, resultBody, { keepAlive, version }) : encodeError(description.id, error as WireError, { keepAlive, refused, version });
      if (!keepAlive) {
        this.finish(bytes);
        return;
      }
      this.socket.write(bytes);
      if (this.decoder !== undefined && this.decoder.bufferedBytes > 0) {
        // The next call has started to arrive already.
        this.startReading();
        return;
      }
      const now = Date.now();
      this.phase = "idle";
      this.phaseDueAt = now + this.host.options.idleTimeoutMs;
      this.alarm.setBy(this.phaseDueAt, now);

    } finally {
      // Logged once the reply is on its way: a log line is a synchronous write to a pipe under Docker.
      this.host.record({
        id: description.id,
        functionName: description.functionName,
        protocol: description.protocol,
        durationMs: Date.now() - startedAt,
        error,
        served,
      });
    }
  }

  /** A failure before or outside a call: one typed error, one log line, then close. */
  private failConnection(error: FunkerError): void {
    if (this.phase === "closing") return;
    if (this.phase === "calling" && this.active !== undefined) {
      // The call in progress replies with this error once its function has been told to stop.
      this.readEnded = true;
      this.active.control.abort(error);
      return;
    }
    const wire = error.toWire();
    this.host.record({ id: "", functionName: undefined, protocol: this.mode, durationMs: Date.now() - this.readStartedAt, error: wire, served: false });
    // A silent caller is most likely a 2017 one (framed callers send the preface at once).
    if (this.mode !== "framed") {
      const reply = encodeLegacyError(wire);
      this.finish(this.legacyMarked ? withLegacyMark(reply) : reply);
      return;
    }
    // A version 2 caller reads a HELLO first, even before an error; a caller
    // whose preface was not understood gets a version 1 ERROR (section 11).
    if (!this.helloSent && this.decoder?.version === 2 && this.host.acceptedForIt !== true) this.sendHello();
    this.finish(encodeError("", wire, { refused: true, version: this.version }));
  }

  /** The framed version this connection speaks: its caller's, or 1 when the preface was not understood. */
  private get version(): ProtocolVersion {
    return this.decoder?.version ?? 1;
  }

  private sendHello(): void {
    this.helloSent = true;
    if (this.socket.writable) this.socket.write(helloFor(this.host.options));
  }

  /** Sends the last bytes and closes our side; resets the socket if the caller does not close its side soon. */
  private finish(lastBytes: Uint8Array | undefined): void {
    if (this.phase === "closing") return;
    this.phase = "closing";
    if (lastBytes === undefined) this.socket.end();
    else this.socket.end(lastBytes);
    if (!this.socket.destroyed) {
      const now = Date.now();
      this.phaseDueAt = now + LINGER_MS;
      this.alarm.unref();
      this.alarm.setBy(this.phaseDueAt, now);
    }
  }
}

/**
 * What a kept connection's caller is told when the handler closes it while
 * idle: a FunkerError's wire form, written out so that no Error (and its
 * stack trace) is made at start-up, which single-shot replicas pay per call.
 */
const goingAway: WireError = { code: "unavailable", message: "the replica closed this idle connection", name: "FunkerError" };

const noDisarm = (): void => undefined;

function deadlineSource(description: CallDescription, startedAt: number, options: ResolvedOptions): string {
  return description.deadline === startedAt + options.timeoutMs ? `timeout of ${options.timeoutMs} ms` : "the caller's deadline";
}


