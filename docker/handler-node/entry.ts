// The module the funker/handler-node image installs as @funker/handler
// (and, under the 2017 library's name, as `funker`).
export { handle, handler, HandlerOptionsError, parseDuration, ExitCode, readSecret, secretPath } from "@funker/handler";
