import { encodeUtf8 } from "./json.js";
import type { CallAuth, CallHeader } from "./frames.js";

/** Keeps a call's MAC from ever matching a MAC the same key makes over other data. */
const SIGNING_DOMAIN = encodeUtf8("FUNKER-CALL\u0000");
const DIGEST_BYTES = 32;

/**
 * The bytes a signed call's HMAC-SHA256 covers (PROTOCOL.md section 6.8):
 * the id, the function and the deadline, so that a captured call can neither
 * outlive its deadline nor reach another function; the time of signing and
 * the key's id; and the SHA-256 of the arguments' bytes exactly as sent.
 * Pure: the caller hashes and signs with its platform's crypto.
 */
export function callSigningInput(
  header: Pick<CallHeader, "id" | "function" | "deadline">,
  signature: Pick<CallAuth, "keyId" | "timestamp">,
  argumentsDigest: Uint8Array,
): Uint8Array {
  if (argumentsDigest.length !== DIGEST_BYTES) throw new TypeError(`the arguments' digest must be the ${DIGEST_BYTES} bytes of a SHA-256`);
  const id = encodeUtf8(header.id);
  const name = encodeUtf8(header.function);
  const keyId = encodeUtf8(signature.keyId);
  if (id.length > 255 || name.length > 255 || keyId.length > 255) throw new TypeError("an id, function name or key id longer than 255 bytes cannot be signed");
  const input = new Uint8Array(SIGNING_DOMAIN.length + 1 + id.length + 1 + name.length + 8 + 8 + 1 + keyId.length + DIGEST_BYTES);
  const view = new DataView(input.buffer);
  let offset = 0;
  input.set(SIGNING_DOMAIN, offset);
  offset += SIGNING_DOMAIN.length;
  for (const text of [id, name]) {
    input[offset] = text.length;
    input.set(text, offset + 1);
    offset += 1 + text.length;
  }
  view.setFloat64(offset, header.deadline);
  view.setFloat64(offset + 8, signature.timestamp);
  offset += 16;
  input[offset] = keyId.length;
  input.set(keyId, offset + 1);
  offset += 1 + keyId.length;
  input.set(argumentsDigest, offset);
  return input;
}
