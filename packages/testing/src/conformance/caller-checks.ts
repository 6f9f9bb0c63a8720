import { LEGACY_ERROR_KEY, encodeError, encodeHeartbeat, encodeJson, encodeResult, isErrorCode } from "@funker/protocol";
import { fail, quoteJson } from "./failure.js";
import type { CallerProtocol, CallerRequest, ReferenceBehaviour } from "./reference-function.js";
import type { Check } from "./report.js";

/** What a caller under test made of one call. */
export type CallerOutcome = { ok: true; value: unknown } | { ok: false; code: string };

/** One check of a caller: the reference function answers with `behaviour`, and `expect` judges what the caller made of it. */
export interface CallerCheck extends Check {
  /** The callers it applies to; "auto" callers meet every check (the framed function where one is listed). */
  readonly protocols: readonly (CallerProtocol | "auto")[];
  readonly args: unknown;
  readonly behaviour: ReferenceBehaviour;
  /** Why a caller sends no well-formed request in this check, when the general reason would mislead. */
  readonly noRequestCause?: string;
  expect(outcome: CallerOutcome, received: CallerRequest): void;
}

/** Answers with `value`: a RESULT frame, or a 2017 reply; `chunkSize` bytes at a time, 1 ms apart, when given. */
function replyWith(value: unknown, chunkSize?: number): ReferenceBehaviour {
  return ({ frame, version }, socket) => {
    const bytes = frame === undefined ? encodeJson(value) : encodeResult(frame.id, value, { version });
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

function describeOutcome(outcome: CallerOutcome): string {
  return outcome.ok ? `the caller returned ${quoteJson(outcome.value)}` : `the caller reported the error ${JSON.stringify(outcome.code)}`;
}

/** The caller must return `expected`; `cause`: what a caller that does not usually gets wrong. */
function expectValue(expected: unknown, cause?: string): CallerCheck["expect"] {
  return (outcome) => {
    if (outcome.ok && JSON.stringify(outcome.value) === JSON.stringify(expected)) return;
    fail({ expected: `the value ${quoteJson(expected)}`, instead: describeOutcome(outcome), cause });
  };
}

/** The caller must report an error, with `code` when given. */
function expectErrorOutcome(outcome: CallerOutcome, code: string | undefined, cause: string): void {
  if (!outcome.ok && (code === undefined || outcome.code === code)) return;
  fail({ expected: code === undefined ? "an error" : `the error ${code}`, instead: describeOutcome(outcome), cause });
}

const SILENT_FUNCTION_IS_2017 =
  "a function that says nothing within a short time after the framed preface is a 2017 one, which runs nothing before the caller half-closes: the call was not delivered, and goes again in the 2017 format, without being reported as one that may have run (PROTOCOL.md 4.1)";

/** The caller checks, in the order they run. Ids are stable: reports and `only` name them. */
export const callerChecks: readonly CallerCheck[] = [
  {
    id: "caller.request",
    title: "the caller sends its arguments as the specification says (legacy: one JSON text and a half-close; framed: preface and a call frame)",
    protocols: ["legacy", "framed"],
    args: { x: 1, y: 2 },
    behaviour: replyWith(3),
    expect(outcome, received) {
      if (JSON.stringify(received.args) !== JSON.stringify({ x: 1, y: 2 })) {
        fail({ expected: 'the arguments {"x":1,"y":2} at the function', instead: quoteJson(received.args), cause: "a caller sends the arguments it was given, unchanged, as one JSON text (PROTOCOL.md 3, 5.3)" });
      }
      expectValue(3)(outcome, received);
    },
  },
  {
    id: "caller.result-object",
    title: "the caller returns an object result intact",
    protocols: ["legacy", "framed"],
    args: { x: 1 },
    behaviour: replyWith({ sum: 3, parts: [1, 2], note: "héllo ✓" }),
    expect: expectValue({ sum: 3, parts: [1, 2], note: "héllo ✓" }, "the value is the reply's JSON text, decoded as UTF-8 and returned as is (PROTOCOL.md 9)"),
  },
  {
    id: "caller.chunked-reply",
    title: "a reply that arrives a few bytes at a time is read whole",
    protocols: ["legacy", "framed"],
    args: {},
    behaviour: replyWith({ list: [1, 2, 3, 4, 5, 6, 7, 8] }, 3),
    expect: expectValue(
      { list: [1, 2, 3, 4, 5, 6, 7, 8] },
      "a reply arrives in as many pieces as TCP makes of it: a caller reads until it is whole (a 2017 reply up to the close, a frame up to its length) (PROTOCOL.md 3, 5.2)",
    ),
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
      const value = outcome.ok ? (outcome.value as Record<string, { code?: unknown }> | null) : undefined;
      if (outcome.ok ? value?.[LEGACY_ERROR_KEY]?.code === "handler_error" : outcome.code === "handler_error") return;
      fail({
        expected: 'the error handler_error (or, from a 2017 caller, the object {"funkerError":{"code":"handler_error",…}} intact)',
        instead: describeOutcome(outcome),
        cause: "a reply that is an object with exactly one key, funkerError, holding an error body with a known code is that error (PROTOCOL.md 3.1)",
      });
    },
  },
  {
    id: "caller.legacy-closed-without-reply",
    title: "an empty 2017 reply (a close before any byte) is the error handler_crashed, never null or a crash",
    protocols: ["legacy"],
    args: {},
    behaviour: (_request, socket) => {
      socket.end();
    },
    expect(outcome) {
      const rule = "an empty reply is the 2017 format's way to fail (the function threw or its process died), and a caller MUST read it as the error handler_crashed, never as null (PROTOCOL.md 3.1)";
      let cause = rule;
      if (outcome.ok) cause = `the caller reads the empty reply as a value, as the 2017 Python library did (None); ${rule}`;
      else if (!isErrorCode(outcome.code)) cause = `the caller fails on the empty reply without reading it, as the 2017 Node library did (its JSON.parse threw and the process died); ${rule}`;
      expectErrorOutcome(outcome, "handler_crashed", cause);
    },
  },
  {
    id: "caller.auto-reaches-2017-function",
    title: "a caller that finds out what a function speaks reaches a 2017 function with no configuration, and gets its value",
    protocols: ["auto"],
    args: { x: 1, y: 2 },
    // A 2017 function: it reads until the caller half-closes, and says nothing to a framed preface.
    behaviour: replyWith(3),
    noRequestCause: SILENT_FUNCTION_IS_2017,
    expect(outcome, received) {
      if (JSON.stringify(received.args) !== JSON.stringify({ x: 1, y: 2 })) {
        fail({ expected: 'the arguments {"x":1,"y":2} in the 2017 format', instead: quoteJson(received.args), cause: "the call goes again, unchanged, as a 2017 request (PROTOCOL.md 3, 4.1)" });
      }
      expectValue(3, SILENT_FUNCTION_IS_2017)(outcome, received);
    },
  },
  {
    id: "caller.error-frame",
    title: "an error frame makes the caller report the error's code",
    protocols: ["framed"],
    args: {},
    behaviour: ({ frame, version }, socket) => {
      socket.end(encodeError(frame?.id ?? "", { code: "handler_error", message: "boom", name: "TypeError" }, { version }));
    },
    expect(outcome) {
      expectErrorOutcome(outcome, "handler_error", "an ERROR frame is the error with its body's code, never a result (PROTOCOL.md 5.3, 8)");
    },
  },
  {
    id: "caller.heartbeats",
    title: "heartbeats before the result are not mistaken for a reply",
    protocols: ["framed"],
    args: {},
    behaviour: ({ frame, version }, socket) => {
      const id = frame?.id ?? "";
      socket.write(encodeHeartbeat(id, { version }));
      setTimeout(() => socket.write(encodeHeartbeat(id, { version })), 20);
      setTimeout(() => socket.end(encodeResult(id, "done", { version })), 40);
    },
    expect: expectValue("done", "a HEARTBEAT only says that the call is alive; the reply is the RESULT or ERROR after it (PROTOCOL.md 6.4)"),
  },
  {
    id: "caller.wrong-id",
    title: "a reply for another call id is a protocol error, not a result",
    protocols: ["framed"],
    args: {},
    behaviour: ({ version }, socket) => {
      socket.end(encodeResult("someone-else", 42, { version }));
    },
    expect(outcome) {
      expectErrorOutcome(outcome, undefined, 'a frame about another call id (here "someone-else") is a protocol_error: a caller compares each reply\'s id with its call\'s (PROTOCOL.md 6.1)');
      if (!outcome.ok && !isErrorCode(outcome.code)) {
        fail({ expected: "an error with one of Funker's codes (protocol_error here)", instead: describeOutcome(outcome), cause: "a caller reports errors with the codes of PROTOCOL.md 8" });
      }
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
      expectErrorOutcome(
        outcome,
        undefined,
        "a connection that ends before the reply is an error: connection_failed before the acceptance heartbeat, handler_crashed after it (PROTOCOL.md 6.2, 6.4)",
      );
    },
  },
];
