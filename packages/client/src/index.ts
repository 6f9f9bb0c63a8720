export { call, createClient, setDefaultClient } from "./default-client.js";
export type {
  Client,
  TypedClient,
  ClientFor,
  ClientLifecycle,
  FunctionMap,
  CallArguments,
  CallResult,
  CallTarget,
} from "./default-client.js";
export type { CallOptions, CallSettings, ClientOptions, RetryPolicy, CallProtocol } from "./options.js";
export type { DnsResolver } from "./options.js";
export { FunkerError, errorCodeInfo, errorCodes } from "@funker/protocol";
export type { ErrorCode } from "@funker/protocol";
