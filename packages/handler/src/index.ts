export { handler } from "./handler.js";
export type { HandlerFunction, HandlerResult } from "./handler.js";
export type { CallInfo, HandlerContext } from "./context.js";
export { HandlerOptionsError, parseDuration } from "./options.js";
export type { Duration, HandlerMode, HandlerOptions } from "./options.js";
export { ExitCode } from "./server.js";
export type { FunctionServer, ServerState } from "./server.js";
export type { StandardSchemaV1 } from "./standard-schema.js";
export type { LogSink } from "./log.js";
