/**
 * Whether a replica answered a case as the protocol says, from the bytes
 * alone. A caller that half-closed is owed a reply (PROTOCOL.md sections 3,
 * 7 and 11): a 2017 request gets a JSON reply (a value or the legacy error
 * object), and a framed stream gets a RESULT or an ERROR as soon as the
 * reference decoder finds a whole frame or a fault in it. A framed stream
 * that ends before its first whole frame is a caller that went away: the
 * replica may close without a word (section 6.5).
 */
import { FrameDecoder, decodeLegacyReply } from "@funker/protocol";
import type { Frame } from "@funker/protocol";

export interface Exchange {
  readonly reply: Uint8Array;
  /** closed: the replica closed; reset: it reset the connection; timed-out: neither in time; left-open: the caller did not wait (it did not half-close). */
  readonly ended: "closed" | "reset" | "timed-out" | "left-open" | "refused";
}

export type Verdict = { readonly ok: true; readonly answer: string } | { readonly ok: false; readonly problem: string };

const PREFACE_HEAD = [0x00, 0x46, 0x55, 0x4e, 0x4b, 0x45, 0x52];

export function judge(request: Uint8Array, halfClosed: boolean, exchange: Exchange): Verdict {
  const verdict = judgeBytes(request, halfClosed, exchange);
  return verdict.ok ? verdict : { ok: false, problem: `${verdict.problem}; the reply: ${describe(exchange.reply)}` };
}

/** The first bytes of a reply, printable, for a person reading a failure. */
function describe(reply: Uint8Array): string {
  const shown = Buffer.from(reply.subarray(0, 240)).toString("latin1");
  return `${JSON.stringify(shown)}${reply.length > 240 ? ` … (${reply.length} bytes)` : ""}`;
}

function judgeBytes(request: Uint8Array, halfClosed: boolean, exchange: Exchange): Verdict {
  if (exchange.ended === "refused") return { ok: false, problem: "the connection was refused: the replica was not listening" };
  if (!halfClosed) return { ok: true, answer: "left open" };
  if (exchange.ended === "timed-out") return { ok: false, problem: `half-closed, and neither a reply nor a close in time (${exchange.reply.length} bytes came)` };
  return request[0] === 0x00 ? judgeFramed(request, exchange) : judgeLegacy(exchange);
}

function judgeLegacy(exchange: Exchange): Verdict {
  if (exchange.reply.length === 0) return { ok: false, problem: `a 2017 request got no reply (${exchange.ended}): its caller reads handler_crashed` };
  try {
    const reply = decodeLegacyReply(exchange.reply);
    return { ok: true, answer: reply.ok ? "2017 value" : `2017 error ${reply.error.code}` };
  } catch (error) {
    return { ok: false, problem: `the 2017 reply does not decode: ${(error as Error).message}` };
  }
}

/**
 * Whether the reference decoder, reading as a handler, finds a whole frame
 * or a fault: either way the handler owes an answer. A CANCEL alone is not
 * owed one: a CANCEL for no call in flight is ignored (section 6.1).
 */
export function owesAnswer(request: Uint8Array): boolean {
  try {
    return new FrameDecoder({ expectPreface: true }).push(request).some((frame) => frame.type !== "cancel");
  } catch {
    return true;
  }
}

function judgeFramed(request: Uint8Array, exchange: Exchange): Verdict {
  const owed = owesAnswer(request);
  const prefaceIntact = PREFACE_HEAD.every((byte, index) => request[index] === byte);
  // A version 2 caller's replies are version 2 after a HELLO; anything else is answered in version 1 (section 11).
  const version = prefaceIntact && request[7] === 2 ? 2 : 1;
  const decoder = new FrameDecoder({ version, expectHello: version === 2 });
  let frames: Frame[];
  try {
    frames = decoder.push(exchange.reply);
    decoder.end();
  } catch (error) {
    return { ok: false, problem: `the reply does not decode as version ${version}: ${(error as Error).message}` };
  }
  const answer = frames.find((frame) => frame.type === "result" || frame.type === "error");
  if (answer !== undefined) return { ok: true, answer: answer.type === "error" ? `error ${answer.error.code}` : "result" };
  if (owed) return { ok: false, problem: `owed an answer, got ${frames.map((frame) => frame.type).join(", ") || "nothing"} and the connection ${exchange.ended}` };
  return { ok: true, answer: "closed before a whole frame" };
}
