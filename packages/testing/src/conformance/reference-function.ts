import { createServer } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { once } from "node:events";
import { FrameDecoder, LegacyBodyCollector, decodeJson, encodeHello } from "@funker/protocol";
import type { CallFrame, ProtocolVersion } from "@funker/protocol";
import { startsAJsonText } from "./causes.js";
import { describeBytes, describeError, fail } from "./failure.js";
import type { FailureExplanation } from "./failure.js";

/** A request from the caller under test, read as the specification defines it. */
export interface CallerRequest {
  /** The CALL frame (framed callers only). */
  readonly frame?: CallFrame;
  /** The framed version the caller's preface named: replies go in it (1 for 2017 callers, which have none). */
  readonly version: ProtocolVersion;
  readonly args: unknown;
}

/** How the reference function answers a well-formed request, on the caller's socket. */
export type ReferenceBehaviour = (request: CallerRequest, socket: Socket) => void;

export type CallerProtocol = "framed" | "legacy";

const FRAMED_REQUEST = "a framed request: the preface 00 46 55 4e 4b 45 52 01, then a CALL frame (PROTOCOL.md 5)";
const LEGACY_REQUEST = "a 2017 request: the arguments as one JSON text, then a half-close (PROTOCOL.md 3)";
const SPEAKS_2017 = 'the caller speaks the 2017 format: test it with protocol: "legacy", or give it framed mode (PROTOCOL.md 5)';
const SPEAKS_FRAMED = 'the caller sends framed calls (its first byte is 0x00): test it with protocol: "framed"';

/** One connection of the caller: what it sent, and why its request broke the rules, once known. */
interface CallerConnection {
  readonly sent: () => Uint8Array;
  broken?: FailureExplanation;
}

/**
 * The function a caller under test calls in one check, served here on a
 * free loopback port: it reads each connection's request as the
 * specification defines it for `protocol`, answers a well-formed one with
 * the check's behaviour, and keeps what the caller sent, so that a request
 * that breaks the rules fails the check with the bytes the caller sent.
 */
export class ReferenceFunction {
  private readonly sockets = new Set<Socket>();
  private request: CallerRequest | undefined;
  private latest: CallerConnection | undefined;

  private constructor(
    private readonly server: Server,
    private readonly protocol: CallerProtocol,
    private readonly behaviour: ReferenceBehaviour,
  ) {}

  static async start(protocol: CallerProtocol, behaviour: ReferenceBehaviour): Promise<ReferenceFunction> {
    // allowHalfOpen: a 2017 caller half-closes, and the reply still has to go out.
    const server = createServer({ allowHalfOpen: true });
    const reference = new ReferenceFunction(server, protocol, behaviour);
    server.on("connection", (socket) => reference.serve(socket));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return reference;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /**
   * The caller's request (the last well-formed one, should it have
   * connected again), or a failure saying what it sent instead.
   */
  receivedRequest(cause?: string): CallerRequest {
    if (this.request !== undefined) return this.request;
    const expected = this.protocol === "framed" ? FRAMED_REQUEST : LEGACY_REQUEST;
    if (this.latest === undefined) return fail({ expected, instead: "no connection", cause: "the caller did not connect to the host and port it was given" });
    const explanation = this.latest.broken ?? incomplete(this.protocol, this.latest.sent());
    return fail(cause === undefined ? explanation : { ...explanation, cause });
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const connection: CallerConnection = { sent: () => Buffer.concat(chunks) };
    this.latest = connection;
    const read = this.protocol === "framed" ? readFramedRequest : readLegacyRequest;
    read(socket, connection.sent).then(
      (request) => {
        this.request = request;
        this.behaviour(request, socket);
      },
      (explanation: FailureExplanation) => {
        connection.broken = explanation;
        socket.destroy();
      },
    );
  }
}

/** A connection that ended, or is still open, without a whole request. */
function incomplete(protocol: CallerProtocol, bytes: Uint8Array): FailureExplanation {
  if (protocol === "framed") {
    return { expected: FRAMED_REQUEST, instead: `${describeBytes(bytes)}, and no whole CALL`, cause: startsAJsonText(bytes) ? SPEAKS_2017 : undefined };
  }
  return {
    expected: LEGACY_REQUEST,
    instead: `${describeBytes(bytes)}, and no half-close`,
    cause: bytes[0] === 0 ? SPEAKS_FRAMED : "a 2017 caller ends its request by half-closing its side of the connection (PROTOCOL.md 3)",
  };
}

/** Reads a 2017 request: JSON up to the half-close. Rejects with what is wrong with it. */
function readLegacyRequest(socket: Socket, sent: () => Uint8Array): Promise<CallerRequest> {
  return new Promise((resolve, reject: (explanation: FailureExplanation) => void) => {
    const body = new LegacyBodyCollector();
    socket.on("data", (chunk: Buffer) => {
      try {
        body.push(chunk);
      } catch (error) {
        reject({ expected: LEGACY_REQUEST, instead: `a request over the limit (${describeError(error)})` });
      }
    });
    socket.once("end", () => {
      try {
        resolve({ version: 1, args: decodeJson(body.bytes(), "bad_arguments", "arguments") });
      } catch (error) {
        const bytes = sent();
        reject({
          expected: LEGACY_REQUEST,
          instead: `${describeBytes(bytes)}, which are not a JSON text (${describeError(error)})`,
          cause: bytes[0] === 0 ? SPEAKS_FRAMED : "a 2017 request is the arguments as one JSON text in UTF-8 (PROTOCOL.md 3, 9)",
        });
      }
    });
  });
}

/** Reads a framed request: the preface and the first CALL frame. Rejects with what is wrong with it. */
function readFramedRequest(socket: Socket, sent: () => Uint8Array): Promise<CallerRequest> {
  return new Promise((resolve, reject: (explanation: FailureExplanation) => void) => {
    const decoder = new FrameDecoder({ expectPreface: true });
    let greeted = false;
    socket.on("data", (chunk: Buffer) => {
      let frame: CallFrame | undefined;
      try {
        const frames = decoder.push(chunk);
        // A version 2 handler's HELLO leaves as soon as the preface is read (PROTOCOL.md 5.5).
        if (!greeted && decoder.version === 2) {
          greeted = true;
          socket.write(encodeHello());
        }
        frame = frames.find((candidate): candidate is CallFrame => candidate.type === "call");
      } catch (error) {
        const bytes = sent();
        reject({
          expected: FRAMED_REQUEST,
          instead: `${describeBytes(bytes)}, which do not decode (${describeError(error)})`,
          cause: startsAJsonText(bytes) ? SPEAKS_2017 : "the preface and frames follow PROTOCOL.md 5.1 and 5.2 byte for byte",
        });
        return;
      }
      if (frame === undefined) return;
      if (frame.deadline <= Date.now()) {
        reject({
          expected: "a CALL whose deadline is in the future",
          instead: `the deadline ${frame.deadline}, ${Date.now() - frame.deadline} ms in the past`,
          cause: "a deadline is an absolute time in milliseconds since the Unix epoch (PROTOCOL.md 5.3, CALL): is it a duration, or in seconds?",
        });
        return;
      }
      try {
        resolve({ frame, version: decoder.version ?? 1, args: decodeJson(frame.body, "bad_arguments", "arguments") });
      } catch (error) {
        reject({ expected: "a CALL whose body is the arguments as one JSON text", instead: `${describeBytes(frame.body)} (${describeError(error)})`, cause: "PROTOCOL.md 5.3 (CALL) and 9" });
      }
    });
    socket.once("end", () =>
      reject({
        expected: FRAMED_REQUEST,
        instead: `${describeBytes(sent())}, then a half-close before a whole CALL`,
        cause: startsAJsonText(sent()) ? SPEAKS_2017 : "a framed caller MUST NOT half-close its side while a call is in flight (PROTOCOL.md 6.1)",
      }),
    );
  });
}
