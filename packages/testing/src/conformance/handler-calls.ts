import { PREFACE, decodeJson, decodeLegacyReply, encodeCall } from "@funker/protocol";
import type { CallHeader, ErrorCode, ErrorFrame, FunkerError, ResultFrame } from "@funker/protocol";
import { EMPTY_LEGACY_REPLY, causeOfUndecodableLegacyReply } from "./causes.js";
import { describeFrame, withExchange } from "./exchange.js";
import type { Endpoint, Exchange } from "./exchange.js";
import { describeBytes, fail, quoteJson } from "./failure.js";

/** The name a handler under test serves `conformanceFunction` under. */
const FUNCTION_NAME = "conformance";

/** What every handler check is given besides its target. */
export interface CheckContext {
  /** The handler's payload limit, in bytes. */
  readonly maxPayloadBytes: number;
  /** How long one exchange may wait for the handler, in ms. */
  readonly timeoutMs: number;
}

/** A framed reply: what a check inspects. */
type Reply = ResultFrame | ErrorFrame;

/** A fresh call header for the conformance function, with a deadline 10 s away. */
export function callHeader(overrides: Partial<CallHeader> = {}): CallHeader {
  return { id: `c-${Math.random().toString(36).slice(2, 10)}`, function: FUNCTION_NAME, deadline: Date.now() + 10_000, ...overrides };
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/**
 * The reply a check wants: a RESULT of `result`, or an ERROR with `error`
 * (and `refused: true`, or its absence, when `refused` is given). `rule`:
 * the specification's rule, named as the likely cause when the handler
 * answers something else, or (for an error) nothing.
 */
export type ReplyExpectation = { readonly result: unknown; readonly rule?: string } | { readonly error: ErrorCode; readonly refused?: boolean; readonly rule?: string };

type ReplyFor<E extends ReplyExpectation> = E extends { readonly error: ErrorCode } ? ErrorFrame : ResultFrame;

/** The next reply on the connection (about `callId` when given), which must be what `expectation` says. */
export async function expectReply<E extends ReplyExpectation>(exchange: Exchange, context: CheckContext, expectation: E & { callId?: string }): Promise<ReplyFor<E>> {
  const wanted = "error" in expectation ? { reply: `an ERROR ${expectation.error}`, ifSilent: expectation.rule } : { reply: `the RESULT ${quoteJson(expectation.result)}` };
  const reply = await exchange.nextReply(context.timeoutMs, { callId: expectation.callId, ...wanted });
  if ("error" in expectation) expectError(reply, expectation.error, expectation);
  else expectResult(reply, expectation.result, expectation.rule);
  return reply as ReplyFor<E>;
}

/** Sends a connection's first framed call (preface, then CALL) and checks its reply. */
export async function framedCall<E extends ReplyExpectation>(
  exchange: Exchange,
  args: unknown,
  context: CheckContext,
  expectation: E & { header?: Partial<CallHeader>; prefaceSent?: boolean },
): Promise<{ reply: ReplyFor<E>; call: CallHeader }> {
  const call = callHeader(expectation.header);
  exchange.send(expectation.prefaceSent === true ? encodeCall(call, args) : concat(PREFACE, encodeCall(call, args)));
  return { reply: await expectReply(exchange, context, { ...expectation, callId: call.id }), call };
}

/** One 2017 call on a connection of its own: the request's bytes, a half-close, and the reply's bytes up to the close. */
export async function legacyCall(target: Endpoint, body: Uint8Array, context: CheckContext): Promise<Uint8Array> {
  return withExchange(target, "legacy", async (exchange) => {
    exchange.sendAndHalfClose(body);
    return exchange.legacyReply(context.timeoutMs);
  });
}

// The checks call conformanceFunction; an error from it usually means the
// handler serves something else.
const SERVE_CONFORMANCE_FUNCTION = 'serve conformanceFunction (its table of args.op) unchanged, under the name "conformance"';

function causeOfUnexpectedError(error: { readonly code: string; readonly message: string }): string | undefined {
  if (error.code === "handler_error") return `the function threw ${JSON.stringify(error.message)}: ${SERVE_CONFORMANCE_FUNCTION}`;
  if (error.code === "not_found") return `the handler serves another function: ${SERVE_CONFORMANCE_FUNCTION}`;
  return undefined;
}

/** The reply must be a RESULT of `expected`. `rule`: the specification's rule, named when the result is another value. */
function expectResult(reply: Reply, expected: unknown, rule?: string): void {
  const wanted = `the RESULT ${quoteJson(expected)}`;
  if (reply.type === "error") fail({ expected: wanted, instead: describeFrame(reply), cause: causeOfUnexpectedError(reply.error) ?? rule });
  let value: unknown;
  try {
    value = decodeJson(reply.body);
  } catch {
    fail({ expected: wanted, instead: `a RESULT whose body is ${describeBytes(reply.body)}, not a JSON text`, cause: "a RESULT's body is the return value as one JSON text (PROTOCOL.md 5.3, 9)" });
  }
  if (JSON.stringify(value) !== JSON.stringify(expected)) {
    fail({ expected: wanted, instead: `the RESULT ${quoteJson(value)}`, cause: rule ?? SERVE_CONFORMANCE_FUNCTION });
  }
}

/**
 * The reply must be an ERROR with `code` and a message. `refused`, when
 * given: whether the handler must say it did not start the function (the
 * caller may then deliver the call elsewhere). `rule`: the specification's
 * rule, named as the likely cause when the reply breaks it.
 */
function expectError(reply: Reply, code: ErrorCode, options: { refused?: boolean; rule?: string } = {}): ErrorFrame {
  const wanted = `an ERROR ${code}${options.refused === true ? " (refused)" : ""}`;
  if (reply.type !== "error") fail({ expected: wanted, instead: describeFrame(reply), cause: options.rule });
  if (reply.error.code !== code) fail({ expected: wanted, instead: describeFrame(reply), cause: causeOfUnexpectedError(reply.error) ?? options.rule });
  if (typeof reply.error.message !== "string" || reply.error.message.length === 0) {
    fail({ expected: `${wanted} with a message`, instead: "an empty message", cause: "every error body carries a message for people (PROTOCOL.md 8.1)" });
  }
  if (options.refused === true && !reply.refused) {
    fail({
      expected: wanted,
      instead: `${describeFrame(reply)}, without refused: true`,
      cause: `the function did not start, and a handler MUST say so with refused: true on every ERROR for a call it did not start, so that the caller may deliver it elsewhere (PROTOCOL.md 5.3, ERROR)`,
    });
  }
  if (options.refused === false && reply.refused) {
    fail({
      expected: `${wanted}, without refused`,
      instead: describeFrame(reply),
      cause: "the function ran: refused: true would let the caller run it again elsewhere (PROTOCOL.md 5.3, ERROR)",
    });
  }
  return reply;
}

type LegacyReading =
  | { readonly kind: "empty" }
  | { readonly kind: "not-json" }
  | { readonly kind: "value"; readonly value: unknown }
  | { readonly kind: "error"; readonly error: FunkerError };

function readLegacyReply(bytes: Uint8Array): LegacyReading {
  if (bytes.length === 0) return { kind: "empty" };
  let reply: ReturnType<typeof decodeLegacyReply>;
  try {
    reply = decodeLegacyReply(bytes);
  } catch {
    return { kind: "not-json" };
  }
  return reply.ok ? { kind: "value", value: reply.value } : { kind: "error", error: reply.error };
}

/** What a 2017 reply was, and what that means, for a failure. */
function explainLegacyReply(bytes: Uint8Array, reading: LegacyReading): { instead: string; cause?: string } {
  switch (reading.kind) {
    case "empty":
      return { instead: "an empty reply (the connection was closed by the target after 0 bytes)", cause: EMPTY_LEGACY_REPLY };
    case "not-json":
      return { instead: `${describeBytes(bytes)}, which are not a JSON text`, cause: causeOfUndecodableLegacyReply(bytes) };
    case "value":
      return { instead: `the value ${quoteJson(reading.value)}` };
    case "error":
      return { instead: `the legacy error object ${reading.error.code}: ${JSON.stringify(reading.error.message)}` };
    default:
      return reading satisfies never;
  }
}

/** A 2017 reply must be the JSON text of `expected`. */
export function expectLegacyValue(bytes: Uint8Array, expected: unknown): void {
  const reading = readLegacyReply(bytes);
  if (reading.kind === "value" && JSON.stringify(reading.value) === JSON.stringify(expected)) return;
  const { instead, cause } = explainLegacyReply(bytes, reading);
  fail({ expected: `the value ${quoteJson(expected)}`, instead, cause: cause ?? (reading.kind === "error" ? causeOfUnexpectedError(reading.error) : SERVE_CONFORMANCE_FUNCTION) });
}

/** A 2017 reply must be the legacy error object with `code`; `rule`: why, named when it is something else. */
export function expectLegacyError(bytes: Uint8Array, code: ErrorCode, rule: string): FunkerError {
  const reading = readLegacyReply(bytes);
  if (reading.kind === "error" && reading.error.code === code) return reading.error;
  const { instead, cause } = explainLegacyReply(bytes, reading);
  return fail({ expected: `the legacy error object {"funkerError":{"code":"${code}",…}}`, instead, cause: cause ?? rule });
}
