/**
 * Glue between Funker's own packages: the handler and the client share
 * these steps so that both sides encode, check and report alike.
 *
 * Outside semver: anything here may change in any release. Other
 * implementations and tools use the public entry, which has every frame's
 * encoder and decoder, the errors and the limits.
 * @packageDocumentation
 */
export { MAX_CAUSE_DEPTH, causeToWire, describeThrown, thrownName, thrownToWireError } from "./errors.js";
export { decodeUtf8, encodeUtf8, parseJson, stringifyJson } from "./json.js";
export { encodeCallBody, encodeResultBody, writeCallFrame } from "./encode.js";
export { checkCallHeader } from "./header-rules.js";
export { readWireError } from "./wire-error.js";
export { checkPayloadSize, resolveMaxPayloadBytes } from "./limits.js";
export { callSigningInput } from "./signing.js";
