import { PREFACE } from "./frames.js";

export type WireMode = "framed" | "legacy";

/**
 * Tells framed callers from legacy ones by the first byte they send: a framed
 * caller's preface starts with NUL, which no JSON text (nor a UTF-8 byte
 * order mark) can start with. Anything else is read as a legacy JSON body,
 * and fails later as bad JSON if it is not one. Returns `undefined` for an
 * empty chunk: wait for more.
 */
export function detectWireMode(firstBytes: Uint8Array): WireMode | undefined {
  if (firstBytes.length === 0) return undefined;
  return firstBytes[0] === PREFACE[0] ? "framed" : "legacy";
}
