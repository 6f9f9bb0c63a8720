// The Docker side of the CLI: `funker build`, `deploy`, `compose` and `rm`.
// Pure planners (image builds, service arguments, compose text) and the code that runs them.
export { functionDockerfile, planImageBuilds, bundleForImage, FUNCTION_BASE_IMAGE, BUNDLE_FILE_NAME, IMAGE_BUILD_FOLDER } from "./image.js";
export type { ImageBuildStep, ImageBuildOptions, ImageBundleResult } from "./image.js";
export {
  functionEnvironment,
  functionLabels,
  stopGracePeriodMs,
  stopGracePeriod,
  restartPolicy,
  networkCreateArgs,
  serviceCreateArgs,
  serviceUpdateArgs,
} from "./service.js";
export type { ServiceOptions } from "./service.js";
export { composeFile, composeNetworkName } from "./compose.js";
export type { ComposeOptions } from "./compose.js";
export { runDocker, buildEnvironment } from "./run.js";
export type { DockerResult, DockerRunOptions } from "./run.js";
export { buildImages, deployFunctions, removeFunctions, writeComposeFile, imageSize } from "./commands.js";
export type { BuildOutcome, BuiltImage, DeployOptions, DeployOutcome, RemoveOutcome, ProgressOptions, TextSink } from "./commands.js";
export { runDockerVerb, isDockerVerb, DOCKER_HELP } from "./verbs.js";
export type { DockerVerb, DockerVerbContext } from "./verbs.js";
