import { FrameType, PREFACE } from "@funker/protocol";

// The likely causes a failure names when a handler's answer (or its silence)
// matches a known mistake. Each says what to change, and where the
// specification (packages/protocol/PROTOCOL.md) has the rule.

/** Silence after a framed call, with not a byte back. */
export const SILENT_TO_FRAMED_CALLS =
  'the target does not answer framed calls: is it a 2017 handler (which waits for the caller to half-close)? Serve the function with @funker/handler or give the handler framed mode (PROTOCOL.md 5); until then, callers must call it with protocol: "legacy"';

/** A legacy call answered by a close before any byte. */
export const EMPTY_LEGACY_REPLY =
  "an empty reply is the 2017 format's way to fail: the function threw or the process died; a Funker handler answers with the legacy error object instead (PROTOCOL.md 3.1)";

/** Silence after a legacy request and its half-close. */
export const SILENT_TO_LEGACY_CALLS =
  "the target does not answer a 2017 caller: does it take the caller's half-close as the end of the request (PROTOCOL.md 3), and tell a 2017 caller by its first byte, anything but 0x00 (PROTOCOL.md 4)?";

/** A framed call answered by a close before any frame. */
export const CLOSED_BEFORE_ANY_FRAME =
  "the target closed the connection without answering: a handler that reads only the 2017 format does so when a framed call is not JSON, and so does a process that died; a Funker handler answers every call with a RESULT or an ERROR frame (PROTOCOL.md 5.3)";

/** A framed call answered by frames (an acceptance heartbeat), then a close without a reply. */
export const CLOSED_WITHOUT_REPLY =
  "the handler closed the connection without a RESULT or an ERROR for the call: did its process die while the function ran? A handler closes only after its reply (PROTOCOL.md 6.2)";

export const CONNECTION_RESET =
  "the target's process died with bytes of the call unread, or it reset the connection itself; a single-shot handler also resets the connections still waiting in its accept queue when it closes its listener (PROTOCOL.md 6.4): is start() giving each check a fresh handler?";

/** Why a handler's answer to a framed call does not decode as frames, judged from its first bytes. */
export function causeOfUndecodableFrames(bytes: Uint8Array): string {
  if (startsWith(bytes, HTTP)) return TEXT_PROTOCOL;
  if (startsWith(bytes, PREFACE.subarray(0, 7))) return "the target sent a preface, which only callers send (PROTOCOL.md 5.1)";
  if (startsAJsonText(bytes)) {
    return "the target answered a framed call with plain JSON, as it would a 2017 caller: a first byte 0x00 (NUL) marks a framed caller, whose replies are frames (PROTOCOL.md 4, 5.2)";
  }
  return "the target's frames do not follow PROTOCOL.md 5.2: a type byte, a 4-byte payload length, a 4-byte header length (big-endian), the header's JSON, the body";
}

/** Why a handler's answer to a 2017 call is not a JSON text, judged from its first bytes. */
export function causeOfUndecodableLegacyReply(bytes: Uint8Array): string {
  if (startsWith(bytes, HTTP)) return TEXT_PROTOCOL;
  const first = bytes[0] ?? 0;
  if (first >= FrameType.call && first <= FrameType.cancel) {
    return "the target answered a 2017 call with frames: any first byte but 0x00 (NUL) marks a 2017 caller, whose reply is one JSON text (PROTOCOL.md 4)";
  }
  return "a 2017 reply is one JSON text in UTF-8 and nothing else (PROTOCOL.md 3.1, 9)";
}

const HTTP = new TextEncoder().encode("HTTP/");
const TEXT_PROTOCOL = "the target speaks HTTP: the address belongs to another server, not a Funker function";

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, index) => bytes[index] === byte);
}

// The bytes a JSON text may start with (PROTOCOL.md 4): whitespace, { [ " -,
// a digit, t f n, or a byte order mark's first byte.
const JSON_FIRST_BYTES = new Set(Array.from(' \t\n\r{["-0123456789tfn', (character) => character.charCodeAt(0)).concat(0xef));

export function startsAJsonText(bytes: Uint8Array): boolean {
  return bytes.length > 0 && JSON_FIRST_BYTES.has(bytes[0] as number);
}
