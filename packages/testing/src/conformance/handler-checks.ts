import { PREFACE, encodeCall, encodeCancel, encodeJson } from "@funker/protocol";
import type { CallHeader, ErrorCode } from "@funker/protocol";
import { connectOutcome, describeFrame, withExchange } from "./exchange.js";
import type { Endpoint, Exchange } from "./exchange.js";
import { fail } from "./failure.js";
import { callHeader, concat, expectLegacyError, expectLegacyValue, expectReply, framedCall, legacyCall } from "./handler-calls.js";
import type { CheckContext, ReplyExpectation } from "./handler-calls.js";
import type { Check } from "./report.js";

/** One check of a handler: it runs against a handler started fresh for it, in `mode`. */
export interface HandlerCheck extends Check {
  readonly mode: "single-shot" | "reuse";
  run(target: Endpoint, context: CheckContext): Promise<void>;
}

/** A check's body on one new framed connection, destroyed after it whatever happens. */
function onFramedConnection(body: (exchange: Exchange, context: CheckContext, target: Endpoint) => Promise<void>): HandlerCheck["run"] {
  return (target, context) => withExchange(target, "framed", (exchange) => body(exchange, context, target));
}

/**
 * A check that sends `request(context)` on a new framed connection and
 * expects an ERROR with `code` back; `rule` is the specification's rule,
 * named when the handler answers something else or nothing.
 */
function refuses(request: (context: CheckContext) => Uint8Array, code: ErrorCode, rule: string, refused?: boolean): HandlerCheck["run"] {
  return onFramedConnection(async (exchange, context) => {
    exchange.send(request(context));
    await expectReply(exchange, context, { error: code, refused, rule });
  });
}

/** A check that makes one framed call of `args` and expects `expectation` back. */
function answers(args: unknown, expectation: ReplyExpectation & { header?: Partial<CallHeader> }): HandlerCheck["run"] {
  return onFramedConnection(async (exchange, context) => {
    await framedCall(exchange, args, context, expectation);
  });
}

/** A CALL frame whose body is replaced by `body` (bytes no encoder would send), after the preface. */
function callWithBody(body: Uint8Array): Uint8Array {
  const frame = encodeCall(callHeader(), 0);
  const patched = new Uint8Array(frame.length - 1 + body.length);
  patched.set(frame.subarray(0, frame.length - 1));
  patched.set(body, frame.length - 1);
  new DataView(patched.buffer).setUint32(1, patched.length - 5);
  return concat(PREFACE, patched);
}

/** An extension frame (type 0x80) with a small header, which every receiver skips. */
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

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The handler checks, in the order they run. Ids are stable: reports and `only` name them. */
export const handlerChecks: readonly HandlerCheck[] = [
  {
    id: "framed.result",
    title: "a framed call gets a result frame with the caller's call id",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      await framedCall(exchange, { op: "add", x: 1, y: 2 }, context, { result: 3 });
      await exchange.endOfConnection(context.timeoutMs, {
        expected: `the handler to close the connection within ${context.timeoutMs} ms of its reply`,
        ifSilent: "a single-shot handler closes the connection after its reply; only a RESULT with keepAlive: true keeps it open (PROTOCOL.md 6.2)",
      });
    }),
  },
  {
    id: "framed.hello",
    title: "a version 2 handler sends its HELLO as soon as it reads the preface, before any call (the caller's proof that a Funker handler took the connection)",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      exchange.send(PREFACE);
      await exchange.waitFor(() => exchange.frames.length > 0, context.timeoutMs, {
        expected: "a HELLO after the version 2 preface alone, before any CALL was sent",
        ifSilent:
          "a version 2 handler MUST answer the preface with its HELLO at once: a caller that knows nothing of the function sends the preface alone and takes silence for a 2017 function (PROTOCOL.md 4, 5.5)",
      });
      const first = exchange.frames[0];
      if (first?.type !== "hello") {
        fail({ expected: "a HELLO as the first frame", instead: first === undefined ? "no frame" : `${describeFrame(first)} first`, cause: "a version 2 handler's first frame is its HELLO (PROTOCOL.md 5.5)" });
      }
      const { call } = await framedCall(exchange, { op: "add", x: 1, y: 2 }, context, { result: 3, header: { heartbeatIntervalMs: 0 }, prefaceSent: true });
      const heartbeats = exchange.frames.filter((frame) => frame.type === "heartbeat" && frame.id === call.id);
      if (heartbeats.length > 0) {
        fail({
          expected: "no HEARTBEAT for a call that asked for none (heartbeatIntervalMs: 0)",
          instead: `${heartbeats.length} HEARTBEAT frame(s)`,
          cause: "version 2 accepts a connection with its HELLO; the version 1 acceptance heartbeat is not sent (PROTOCOL.md 6.4)",
        });
      }
    }),
  },
  {
    id: "framed.undefined-is-null",
    title: "a function that returns nothing sends null",
    mode: "single-shot",
    run: answers({ op: "none" }, { result: null, rule: "a function that returns nothing (undefined) returns null; a RESULT's body is never empty (PROTOCOL.md 5.3, RESULT)" }),
  },
  {
    id: "legacy.result",
    title: "a 2017 caller (JSON, half-close) gets the JSON result, then the connection closes",
    mode: "single-shot",
    async run(target, context) {
      expectLegacyValue(await legacyCall(target, encodeJson({ op: "add", x: 1, y: 2 }), context), 3);
    },
  },
  {
    id: "legacy.bad-json",
    title: "malformed JSON from a 2017 caller gets the legacy error object with bad_arguments, not an empty reply",
    mode: "single-shot",
    async run(target, context) {
      const bytes = await legacyCall(target, new TextEncoder().encode('{"op": "add", "x": 1,'), context);
      expectLegacyError(bytes, "bad_arguments", "a handler SHOULD answer a 2017 request that is not JSON with the legacy error object, code bad_arguments (PROTOCOL.md 3.1)");
    },
  },
  {
    id: "legacy.handler-error",
    title: "a function that throws gives a 2017 caller the legacy error object with handler_error and the message",
    mode: "single-shot",
    async run(target, context) {
      const bytes = await legacyCall(target, encodeJson({ op: "fail", message: "boom" }), context);
      const error = expectLegacyError(bytes, "handler_error", "a function that throws is answered with the legacy error object, code handler_error (PROTOCOL.md 3.1, 8)");
      if (error.message !== "boom") {
        fail({ expected: 'the function\'s message, "boom", in the legacy error object', instead: `the message ${JSON.stringify(error.message)}`, cause: "the error body carries the thrown error's message (PROTOCOL.md 8.1)" });
      }
    },
  },
  {
    id: "framed.handler-error",
    title: "a function that throws gives an error frame with handler_error, its message and its name, not refused",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      const rule = "a function that throws is answered with an ERROR handler_error (PROTOCOL.md 8)";
      const { error } = (await framedCall(exchange, { op: "fail", message: "boom" }, context, { error: "handler_error", refused: false, rule })).reply;
      if (error.message !== "boom" || error.name !== "Error") {
        fail({
          expected: 'the thrown error\'s message "boom" and name "Error"',
          instead: `the message ${JSON.stringify(error.message)} and name ${JSON.stringify(error.name)}`,
          cause: "the error body carries the thrown error's message and name (PROTOCOL.md 8.1)",
        });
      }
    }),
  },
  {
    id: "framed.bad-arguments",
    title: "arguments that are not JSON get bad_arguments, refused (the function did not run)",
    mode: "single-shot",
    // The body "}" starts no JSON text.
    run: refuses(() => callWithBody(Uint8Array.of(0x7d)), "bad_arguments", "arguments that are not valid JSON are bad_arguments, refused before the function runs (PROTOCOL.md 5.3, CALL)", true),
  },
  {
    id: "framed.prototype-key",
    title: 'arguments with a "__proto__" key are refused with bad_arguments',
    mode: "single-shot",
    run: refuses(
      () => callWithBody(new TextEncoder().encode('{"op":"echo","value":{"__proto__":{"polluted":true}}}')),
      "bad_arguments",
      'a "__proto__" key anywhere in a JSON text is refused, against prototype pollution (PROTOCOL.md 9)',
    ),
  },
  {
    id: "framed.wrong-function",
    title: "a call for another function's name gets not_found, refused",
    mode: "single-shot",
    run: answers(
      { op: "add", x: 1, y: 2 },
      {
        error: "not_found",
        refused: true,
        rule: "a handler whose function is not the CALL's function replies not_found, refused, without running anything (PROTOCOL.md 6.7)",
        header: { function: "not-conformance" },
      },
    ),
  },
  {
    id: "framed.too-large",
    title: "a frame claiming more than the payload limit gets payload_too_large without the bytes being sent",
    mode: "single-shot",
    run: refuses(
      (context) => {
        const claim = new Uint8Array(9);
        const view = new DataView(claim.buffer);
        view.setUint8(0, 0x01);
        view.setUint32(1, context.maxPayloadBytes + 70_000 + 8);
        view.setUint32(5, 30);
        return concat(PREFACE, claim);
      },
      "payload_too_large",
      "a receiver refuses a frame larger than its limit (the checks' maxPayloadBytes option) as soon as it has read the frame's length, without waiting for the bytes (PROTOCOL.md 5.2, 10)",
    ),
  },
  {
    id: "framed.garbage-after-preface",
    title: "an unknown critical frame type gets protocol_error",
    mode: "single-shot",
    run: refuses(
      () => concat(PREFACE, Uint8Array.of(0x07, 0, 0, 0, 6, 0, 0, 0, 2, 0x7b, 0x7d)),
      "protocol_error",
      "a frame type below 0x80 that the receiver does not know is a protocol_error (PROTOCOL.md 5.3)",
    ),
  },
  {
    id: "framed.bad-version",
    title: "a preface with an unknown version gets protocol_error",
    mode: "single-shot",
    run: refuses(
      () => concat(PREFACE.subarray(0, PREFACE.length - 1), Uint8Array.of(0x7f)),
      "protocol_error",
      "a handler answers a preface with a version it does not speak with protocol_error (PROTOCOL.md 5.1, 11)",
    ),
  },
  {
    id: "framed.extension-skipped",
    title: "an extension frame (type 0x80 and above) is skipped",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      exchange.send(concat(PREFACE, extensionFrame(), encodeCall(callHeader(), { op: "add", x: 2, y: 3 })));
      await expectReply(exchange, context, { result: 5, rule: "a receiver skips frame types 0x80 to 0xff it does not know and goes on (PROTOCOL.md 5.3)" });
    }),
  },
  {
    id: "framed.heartbeat",
    title: "a long call sends heartbeats at the interval the caller asked for",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      await framedCall(exchange, { op: "sleep", ms: 600 }, context, { result: "slept", header: { heartbeatIntervalMs: 50 } });
      const heartbeats = exchange.frames.filter((frame) => frame.type === "heartbeat").length;
      if (heartbeats < 2) {
        fail({
          expected: "a HEARTBEAT about every 50 ms of a 600 ms call (at least 2)",
          instead: `${heartbeats} before the RESULT`,
          cause: "while a call runs, the handler sends a HEARTBEAT every heartbeatIntervalMs of the CALL (PROTOCOL.md 6.4)",
        });
      }
    }),
  },
  {
    id: "framed.deadline",
    title: "a call past its deadline gets deadline_exceeded",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      const rule = "the handler ends a call at its deadline, an absolute time in ms since the Unix epoch, and replies deadline_exceeded (PROTOCOL.md 6.3)";
      await framedCall(exchange, { op: "sleep", ms: 30_000 }, context, { error: "deadline_exceeded", rule, header: { deadline: Date.now() + 300 } });
    }),
  },
  {
    id: "framed.cancel",
    title: "a cancel frame stops the call: the reply is cancelled",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context) => {
      const call = callHeader();
      exchange.send(concat(PREFACE, encodeCall(call, { op: "sleep", ms: 30_000 })));
      await wait(100);
      exchange.send(encodeCancel(call.id, "test"));
      const rule = "on a CANCEL the handler fires the function's abort signal and replies ERROR cancelled (PROTOCOL.md 6.5)";
      await expectReply(exchange, context, { error: "cancelled", rule, callId: call.id });
    }),
  },
  {
    id: "single-shot.refuse-while-busy",
    title: "single-shot: once a call is accepted, other callers are refused (ECONNREFUSED)",
    mode: "single-shot",
    run: onFramedConnection(async (exchange, context, target) => {
      const call = callHeader();
      exchange.send(concat(PREFACE, encodeCall(call, { op: "sleep", ms: 500 })));
      // Give the handler a moment to close its listener after accepting.
      await wait(100);
      const outcome = await connectOutcome(target);
      if (outcome !== "ECONNREFUSED") {
        fail({
          expected: "a second caller to be refused (ECONNREFUSED) while the first call runs",
          instead: outcome === "connected" ? "the second connection was accepted" : `the second connection failed with ${outcome}`,
          cause: "a single-shot handler closes its listener once it has accepted its one connection, so that a busy replica is refused at once and the caller tries another (PROTOCOL.md 6.6)",
        });
      }
      await expectReply(exchange, context, { result: "slept", callId: call.id });
    }),
  },
  {
    id: "reuse.keep-alive",
    title: "reuse: a framed caller may send a second call on the same connection",
    mode: "reuse",
    run: onFramedConnection(async (exchange, context) => {
      const { reply } = await framedCall(exchange, { op: "add", x: 1, y: 1 }, context, { result: 2 });
      if (!reply.keepAlive) {
        fail({ expected: "a RESULT with keepAlive: true in reuse mode", instead: "a RESULT without it", cause: "a reuse-mode handler keeps the connection for another call and says so (PROTOCOL.md 6.2)" });
      }
      const second = callHeader();
      exchange.send(encodeCall(second, { op: "add", x: 2, y: 2 }));
      const rule = "after a reply with keepAlive: true, the caller may send its next CALL on the connection without a new preface (PROTOCOL.md 6.2)";
      await expectReply(exchange, context, { result: 4, rule, callId: second.id });
    }),
  },
  {
    id: "reuse.busy",
    title: "reuse: a caller beyond the concurrency limit gets unavailable at once, refused",
    mode: "reuse",
    run: onFramedConnection(async (first, context, target) => {
      first.send(concat(PREFACE, encodeCall(callHeader(), { op: "sleep", ms: 1_000 })));
      await wait(100);
      await withExchange(target, "framed", async (exchange) => {
        const rule = "a reuse-mode handler at its concurrency limit (these checks expect a limit of 1, Funker's default) replies ERROR unavailable, refused, at once (PROTOCOL.md 6.6)";
        await framedCall(exchange, { op: "add", x: 1, y: 2 }, context, { error: "unavailable", refused: true, rule });
      });
    }),
  },
  {
    id: "reuse.legacy",
    title: "reuse: 2017 callers are served one after another",
    mode: "reuse",
    async run(target, context) {
      for (const x of [1, 2]) expectLegacyValue(await legacyCall(target, encodeJson({ op: "add", x, y: 1 }), context), x + 1);
    },
  },
];
