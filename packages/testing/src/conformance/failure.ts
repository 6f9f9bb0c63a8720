import { FunkerError } from "@funker/protocol";

/**
 * Why a conformance check failed, in the three parts an implementer needs to
 * fix the implementation from the message alone: what the specification
 * expected, what came instead, and the likely cause where one is known.
 */
export interface FailureExplanation {
  readonly expected: string;
  readonly instead: string;
  readonly cause?: string | undefined;
}

/** Fails the running check with an explanation; the report shows `failureMessage(explanation)`. */
export function fail(explanation: FailureExplanation): never {
  throw new Error(failureMessage(explanation));
}

export function failureMessage({ expected, instead, cause }: FailureExplanation): string {
  const sentence = (text: string) => (/[.?!]$/.test(text) ? text : `${text}.`);
  return `expected ${expected}; instead ${sentence(instead)}${cause === undefined ? "" : ` Likely cause: ${sentence(cause)}`}`;
}

/** An error thrown inside a check, as the report shows it. */
export function describeError(error: unknown): string {
  if (error instanceof FunkerError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

// Enough bytes to recognise a preface, a frame prefix or the start of a text
// protocol, few enough to keep a failure on one line.
const SHOWN_BYTES = 24;

/**
 * Bytes as a failure shows them: the count, the first bytes in hex, and the
 * same bytes as text when they are printable (JSON, HTTP, …).
 */
export function describeBytes(bytes: Uint8Array): string {
  if (bytes.length === 0) return "0 bytes";
  const shown = bytes.subarray(0, SHOWN_BYTES);
  const hex = Array.from(shown, (byte) => byte.toString(16).padStart(2, "0")).join(" ");
  const more = bytes.length > SHOWN_BYTES ? " …" : "";
  const text = printableText(shown);
  return `${countOf(bytes.length, "byte")} (${hex}${more}${text === undefined ? "" : `, as text ${JSON.stringify(text)}${more}`})`;
}

function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    // stream: a multi-byte character cut at SHOWN_BYTES is held back (and the
    // decoder dropped), not taken for bytes that are not UTF-8.
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
  } catch {
    return undefined;
  }
  // eslint-disable-next-line no-control-regex -- control characters are what make bytes binary
  return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? undefined : text;
}

export function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** A JSON value as a failure quotes it, cut at 200 characters. */
export function quoteJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
