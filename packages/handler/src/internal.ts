/**
 * Glue between Funker's own packages (`@funker/testing` runs fake functions
 * exactly as the handler would report their errors). Outside semver: it may
 * change in any release; applications must not import it.
 */
export { encodeFunctionResult, thrownToWire } from "./invoke.js";
export { serveConnection } from "./connection.js";
export { answerBusy } from "./busy.js";
export type { Connection } from "./connection.js";
export type { CallRecord } from "./call-record.js";
export type { ConnectionHost } from "./host.js";
export { resolveOptions } from "./options.js";
export type { ResolvedOptions } from "./options.js";
