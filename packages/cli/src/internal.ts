/**
 * Glue between Funker's own packages: the end-to-end tests drive the Docker
 * verbs' pieces directly, and tools read the commands' registry. Outside
 * semver: it may change in any release; applications must not import it.
 */
export { COMMANDS, FUNKER_HELP, HELP, findCommand } from "./commands/registry.js";
export { defineCommand, parseCommandLine, UsageError } from "./commands/command.js";
export type { Command, CommandContext, CommandInput } from "./commands/command.js";
export { parseKeyValueArguments, parseJsonArguments, runCall } from "./commands/call.js";
export { CONFIG_FILE_NAME, findConfigFile, functionNameProblem } from "./config/funker-yml.js";
export { FUNKER_YML_SETTINGS, settingsEnvironment } from "./config/handler-settings.js";
export { decideRestart, DEFAULT_RESTART_POLICY } from "./dev/restart-policy.js";
export type { ExitFailure, ProcessExit, RestartDecision, RestartHistory, RestartPolicy } from "./dev/restart-policy.js";
export { ENDPOINTS_VARIABLE, formatEndpoints } from "./dev/endpoints.js";
export { stateFilePath } from "./dev/state.js";
export { scaffoldFiles } from "./scaffold/scaffold.js";
export { functionDockerfile, planImageBuilds, FUNCTION_BASE_IMAGE, BUNDLE_FILE_NAME, IMAGE_BUILD_FOLDER } from "./docker/image.js";
export type { ImageBuildStep, ImageBuildOptions } from "./docker/image.js";
export {
  functionEnvironment,
  functionLabels,
  stopGracePeriodMs,
  stopGracePeriod,
  restartPolicy,
  networkCreateArgs,
  serviceCreateArgs,
  serviceUpdateArgs,
  volumeName,
} from "./docker/service.js";
export type { ServiceOptions } from "./docker/service.js";
export { composeFile, composeNetworkName } from "./docker/compose.js";
export type { ComposeOptions } from "./docker/compose.js";
export { runDocker, buildEnvironment } from "./docker/run.js";
export type { DockerResult, DockerRunOptions } from "./docker/run.js";
export { buildImages, deployFunctions, removeFunctions, writeComposeFile, imageSize } from "./docker/actions.js";
export type { BuildOutcome, BuiltImage, DeployOptions, DeployOutcome, RemoveOutcome, ProgressOptions } from "./docker/actions.js";
export type { TextSink } from "./terminal.js";
export { loadConfig, parseConfig } from "./config/funker-yml.js";
export type { FunkerConfig, FunctionMode, FunctionSpec } from "./config/funker-yml.js";
export { bundleForImage } from "./docker/image.js";
