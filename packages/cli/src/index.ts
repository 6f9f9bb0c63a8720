// The public API of @funker/cli, as its README documents it. Glue for
// Funker's own packages (benchmarks, end-to-end tests) is in ./internal.
export { main } from "./main.js";
export { ExitCode } from "./exit-code.js";
export { loadConfig, parseConfig, ConfigError } from "./config/funker-yml.js";
export type { FunkerConfig, FunctionSpec, FunctionMode, EndpointMode, ScaleSpec, VolumeSpec, ConfigIssue, ConfigPosition } from "./config/funker-yml.js";
export type { HandlerSettings } from "./config/handler-settings.js";
export { runDev } from "./dev/runtime.js";
export type { DevOptions } from "./dev/runtime.js";
export { readState } from "./dev/state.js";
export type { DevState, FunctionStatus, ReplicaStatus, ReplicaState, ReplicaError } from "./dev/state.js";
export type { EndpointMap } from "./dev/endpoints.js";
export { bundleForImage } from "./docker/image.js";
export type { ImageBundleResult } from "./docker/image.js";
