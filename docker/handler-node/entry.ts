// The module the funker/handler-node image installs as @funker/handler.
export { handler, HandlerOptionsError, parseDuration, ExitCode } from "@funker/handler";
