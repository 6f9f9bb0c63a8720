import { SCALE_LABELS, STATUS_PORT } from "@funker/autoscaler";
import { DOCKER_SECRETS_FOLDER, SETTINGS } from "@funker/handler/contract";
import type { FunctionSpec, FunkerConfig, ServiceSpec, VolumeSpec } from "../config/funker-yml.js";
import { RESTART_DELAY_MS } from "../config/restart-delay.js";
import { settingsEnvironment } from "../config/handler-settings.js";
import { keyEnvironment, keySecrets } from "../config/signing-keys.js";

/** The handler's default call time limit, used when funker.yml gives no `timeout`. */
const HANDLER_DEFAULT_TIMEOUT_MS = SETTINGS.timeout.default;
/**
 * Time on top of the longest call before Docker sends SIGKILL: the handler
 * needs a moment to write the reply and exit once its grace period ends.
 */
const STOP_GRACE_MARGIN_MS = 5_000;

/**
 * The environment a function's replicas get: the settings of funker.yml, as the handler reads them, the status port
 * when it is scaled (the autoscaler reads its replicas there), then its own variables.
 */
export function functionEnvironment(spec: FunctionSpec, modeOverride?: FunctionSpec["mode"]): Record<string, string> {
  const statusPort: Record<string, string> = spec.scale === undefined ? {} : { [SETTINGS.statusPort.variable]: String(STATUS_PORT) };
  return { ...settingsEnvironment(spec.name, spec.handlerSettings, modeOverride), ...statusPort, ...spec.environment };
}

/** The variables that give a container the stack's keys, from the secrets Docker mounts at /run/secrets/<name>. */
export function dockerKeyEnvironment(config: Pick<FunkerConfig, "secret" | "functions">): Record<string, string> {
  return keyEnvironment(config, (name) => `${DOCKER_SECRETS_FOLDER}/${name}`);
}

/** Every variable of a function's containers: the stack's keys, then the function's own (which win). */
function containerEnvironment(config: FunkerConfig, spec: FunctionSpec): Record<string, string> {
  return { ...dockerKeyEnvironment(config), ...functionEnvironment(spec) };
}

/**
 * The Docker secrets a function's containers mount: its own `secrets:`, then
 * every key secret of the stack (a function may call the others).
 */
export function functionSecrets(config: FunkerConfig, spec: FunctionSpec): string[] {
  return [...new Set([...spec.secrets, ...keySecrets(config).map((secret) => secret.name)])];
}

/**
 * The Docker secrets a service of `services:` mounts: the stack's key
 * secrets, since a service (an app, a web front end) calls functions. A
 * service that calls none, such as a database, ignores them.
 */
export function serviceSecrets(config: FunkerConfig): string[] {
  return keySecrets(config).map((secret) => secret.name);
}

/** `--secret-rm`/`--secret-add` arguments that bring a service from the secrets it mounts to `wanted`. */
function secretUpdateArgs(previous: readonly string[], wanted: readonly string[]): string[] {
  const args: string[] = [];
  for (const secret of previous) if (!wanted.includes(secret)) args.push("--secret-rm", secret);
  for (const secret of wanted) if (!previous.includes(secret)) args.push("--secret-add", secret);
  return args;
}

/** Every variable of a service's containers: the stack's keys, then its own (which win). */
function backingServiceEnvironment(config: FunkerConfig, spec: ServiceSpec): Record<string, string> {
  return { ...dockerKeyEnvironment(config), ...spec.environment };
}

/**
 * Labels that describe a function to tools that watch Docker, the
 * autoscaler first (`@funker/autoscaler` reads the `scale` ones): what it is, its mode, its limits and its scaling bounds.
 * `com.docker.stack.namespace` makes `docker stack services|ps|rm <stack>`
 * see the functions as one stack.
 */
export function functionLabels(config: FunkerConfig, spec: FunctionSpec): Record<string, string> {
  const labels: Record<string, string> = {
    "io.funker.function": spec.name,
    "io.funker.stack": config.name,
    "io.funker.mode": spec.mode,
    "io.funker.timeout-ms": String(spec.timeoutMs ?? HANDLER_DEFAULT_TIMEOUT_MS),
    "com.docker.stack.namespace": config.name,
  };
  if (spec.concurrency !== undefined) labels["io.funker.concurrency"] = String(spec.concurrency);
  if (spec.scale !== undefined) {
    labels[SCALE_LABELS.min] = String(spec.scale.min);
    labels[SCALE_LABELS.max] = String(spec.scale.max);
    if (spec.scale.idleMs !== undefined) labels[SCALE_LABELS.idleMs] = String(spec.scale.idleMs);
    if (spec.scale.warm !== undefined) labels[SCALE_LABELS.warm] = String(spec.scale.warm);
  }
  return labels;
}

/** How long Docker waits after SIGTERM before SIGKILL: above the longest call, so a scale-down never cuts one short. */
export function stopGracePeriodMs(spec: FunctionSpec): number {
  return (spec.timeoutMs ?? HANDLER_DEFAULT_TIMEOUT_MS) + STOP_GRACE_MARGIN_MS;
}

/**
 * The stop grace period as Docker and Compose read it, in whole seconds
 * (rounded up): docker-compose 1.29 sends "35000ms" as 35.0, which the
 * engine refuses.
 */
export function stopGracePeriod(spec: FunctionSpec): string {
  return `${Math.ceil(stopGracePeriodMs(spec) / 1000)}s`;
}

/**
 * Swarm's restart policy for a function. A single-shot replica exits 0 after
 * every call, so the condition must be `any`, and the delay 0: Swarm's
 * default 5 s delay means a replica serves one call per 6 s or so.
 */
export function restartPolicy(spec: FunctionSpec): { condition: "any"; delay: string } {
  return { condition: "any", delay: `${RESTART_DELAY_MS[spec.mode] / 1_000}s` };
}

/**
 * How Swarm replaces a function's replicas: in a rolling update
 * (`UpdateConfig`, what `funker deploy` starts) or in a rollback
 * (`RollbackConfig`, after a failed update or `docker service rollback`).
 * Swarm's update monitor counts any replica it started that leaves the
 * running state within `monitor` (or before it ever ran) as a failure,
 * exit 0 included ("failure or early termination"), and applies
 * `failureAction` once failures exceed `maxFailureRatio` of the replicas
 * being replaced. After the last replica it watches for one more `monitor`
 * before it calls the update completed.
 */
export interface RolloutPolicy {
  readonly failureAction: "continue" | "pause" | "rollback";
  /** A duration as Docker reads it (`5s`); Docker's client takes `0s` as "the default", 5 s. */
  readonly monitor: string;
  readonly maxFailureRatio: number;
  readonly order: "start-first" | "stop-first";
}

/**
 * Whether a function's replicas exit 0 as part of their work: a single-shot
 * replica after every call, a reuse replica at its `maxCalls`. Swarm's
 * update monitor cannot tell such an exit from a crash.
 */
export function replicasExitByDesign(spec: FunctionSpec): boolean {
  return spec.mode === "single-shot" || (spec.mode === "reuse" && spec.maxCalls !== undefined);
}

/**
 * A rolling update of a function, by mode:
 *
 * - Replicas that exit by design (single-shot; reuse with `maxCalls`):
 *   failure action `continue`. Under load a new single-shot replica serves a
 *   call and exits 0 soon after it starts, which the monitor counts as an
 *   early termination: with Swarm's default (`pause`, ratio 0) the first
 *   such exit pauses the update, the replicas split between two images. The
 *   monitor is then only the wait after the last replica, so it is short
 *   (1 s: Docker's client reads 0 as its 5 s default). A broken image is
 *   not rolled back by Swarm here; `funker deploy` reports what it sees.
 * - Replicas that exit only when they fail (reuse without `maxCalls`,
 *   fresh, whose supervisor outlives its processes): failure action
 *   `rollback` with ratio 0 and Swarm's 5 s monitor, long enough for a
 *   replica that cannot start or dies on its first calls: any exit of a new
 *   replica is a failure, and the previous image keeps serving.
 *
 * Order `start-first` in every mode: the new replica runs before the old
 * one gets SIGTERM (it finishes the calls it accepted), so the replicas
 * ready for a call never drop below `replicas` during an update. A
 * stop-first update leaves a slot empty for a replica's start at each step
 * (1.2-6 s on Swarm), and with one replica no replica at all; a fresh
 * replica, which warms its processes before it listens, the longest. The
 * cost is one replica more than `replicas` while two share a slot; functions
 * publish no port and their replicas already share their volumes, so two at
 * once conflict on nothing.
 */
export function updatePolicy(spec: FunctionSpec): RolloutPolicy {
  if (replicasExitByDesign(spec)) return { failureAction: "continue", monitor: "1s", maxFailureRatio: 0, order: "start-first" };
  return { failureAction: "rollback", monitor: "5s", maxFailureRatio: 0, order: "start-first" };
}

/**
 * A rollback of a function: the update's monitor and order, and failure
 * action `continue` in every mode. A rollback brings back the spec that
 * served before; pausing it halfway (Swarm's default) would leave some
 * replicas on the spec that has just failed, and a rollback is never rolled
 * back.
 */
export function rollbackPolicy(spec: FunctionSpec): RolloutPolicy {
  return { ...updatePolicy(spec), failureAction: "continue" };
}

function rolloutArgs(prefix: "update" | "rollback", policy: RolloutPolicy): string[] {
  return [
    `--${prefix}-failure-action`,
    policy.failureAction,
    `--${prefix}-monitor`,
    policy.monitor,
    `--${prefix}-max-failure-ratio`,
    String(policy.maxFailureRatio),
    `--${prefix}-order`,
    policy.order,
  ];
}

/**
 * The Docker name of a named volume: `<stack>_<name>`, the rule of
 * `docker stack deploy` and Compose, so two stacks that both say `votes` do
 * not share votes. `funker deploy` and `funker compose` use the same name, so
 * a stack moved from one to the other keeps its data.
 */
export function volumeName(config: FunkerConfig, volume: VolumeSpec): string {
  return volume.type === "volume" ? `${config.name}_${volume.source}` : volume.source;
}

/**
 * A volume as `docker service create --mount` reads it. A named volume Swarm
 * creates on first use is labelled with its stack, as `docker stack deploy`
 * labels its own.
 */
export function mountArgument(config: FunkerConfig, volume: VolumeSpec): string {
  const fields = [`type=${volume.type}`, `source=${volumeName(config, volume)}`, `target=${volume.target}`];
  if (volume.readOnly) fields.push("readonly");
  if (volume.type === "volume") fields.push(`volume-label=io.funker.stack=${config.name}`);
  return fields.join(",");
}

export interface ServiceOptions {
  /** The image to run; the function's `image` by default. */
  readonly image?: string;
  /** Ask the registry for the image's digest. Off by default: images built on this machine are in no registry. */
  readonly resolveImage?: boolean;
  /**
   * More names the service answers to on the network (`<alias>` and
   * `tasks.<alias>` in Docker's DNS there, and nowhere else), set when the
   * service is created: a service named per stack can still be called by a
   * shorter name on that stack's own network.
   */
  readonly networkAliases?: readonly string[];
}

/** `docker network create` arguments for the attachable overlay network functions and callers share. */
export function networkCreateArgs(network: string): string[] {
  return ["network", "create", "--driver", "overlay", "--attachable", network];
}

/**
 * The settings of a function's tasks, the same for `service create` and
 * `service update`, so that a redeploy can never drift from a first deploy.
 */
function taskSettings(spec: FunctionSpec): string[] {
  const restart = restartPolicy(spec);
  return [
    "--endpoint-mode",
    spec.endpointMode,
    "--replicas",
    String(spec.replicas),
    "--restart-condition",
    restart.condition,
    "--restart-delay",
    restart.delay,
    "--stop-signal",
    "SIGTERM",
    "--stop-grace-period",
    stopGracePeriod(spec),
    // Docker's init as PID 1: Node as PID 1 ignores a SIGTERM that arrives
    // before the handler has installed its own (a replica's first 100-200 ms),
    // and Docker then waits the whole stop grace period before SIGKILL.
    // Single-shot replicas are forever starting, so scale-downs and updates
    // would often wait that long. Under the init such an early SIGTERM ends
    // Node at once (no call was accepted yet); a later one reaches the
    // handler, which finishes the call in progress.
    "--init",
    ...rolloutArgs("update", updatePolicy(spec)),
    ...rolloutArgs("rollback", rollbackPolicy(spec)),
  ];
}

/**
 * `docker service create` arguments for one function. The service is named
 * after the function, so callers find its replicas at `tasks.<name>`, and is
 * created detached: `funker deploy` waits for its tasks itself.
 */
export function serviceCreateArgs(config: FunkerConfig, spec: FunctionSpec, options: ServiceOptions = {}): string[] {
  const args = [
    "service",
    "create",
    "--detach",
    "--name",
    spec.name,
    "--network",
    networkArgument(config.network, options.networkAliases ?? []),
    ...taskSettings(spec),
  ];
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  for (const [key, value] of Object.entries(functionLabels(config, spec))) args.push("--label", `${key}=${value}`);
  args.push("--container-label", `io.funker.function=${spec.name}`);
  for (const [key, value] of Object.entries(containerEnvironment(config, spec))) args.push("--env", `${key}=${value}`);
  for (const secret of functionSecrets(config, spec)) args.push("--secret", secret);
  for (const volume of spec.volumes) args.push("--mount", mountArgument(config, volume));
  args.push(options.image ?? spec.image);
  return args;
}

/** `--network`'s value: the network's name alone, or Docker's long form when the service has aliases on it. */
function networkArgument(network: string, aliases: readonly string[]): string {
  if (aliases.length === 0) return network;
  return [`name=${network}`, ...aliases.map((alias) => `alias=${alias}`)].join(",");
}

/**
 * `docker service update` arguments that bring an existing function's
 * service to funker.yml. `--force` replaces the replicas even when the image
 * tag is unchanged: a rebuilt `funker/add:latest` has the same name, and
 * Swarm would otherwise keep the old image. Variables, secrets and mounts
 * are added or overwritten (a mount by its target); `previous` (the
 * service's current environment names, secrets and mount targets) lets the
 * update remove those funker.yml no longer lists.
 */
export function serviceUpdateArgs(
  config: FunkerConfig,
  spec: FunctionSpec,
  options: ServiceOptions & {
    readonly previous?: { readonly environment: readonly string[]; readonly secrets: readonly string[]; readonly mounts?: readonly string[] };
  } = {},
): string[] {
  const args = [
    "service",
    "update",
    "--detach",
    "--force",
    "--image",
    options.image ?? spec.image,
    ...taskSettings(spec),
  ];
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  for (const [key, value] of Object.entries(functionLabels(config, spec))) args.push("--label-add", `${key}=${value}`);
  const environment = containerEnvironment(config, spec);
  for (const name of options.previous?.environment ?? []) {
    if (!(name in environment)) args.push("--env-rm", name);
  }
  for (const [key, value] of Object.entries(environment)) args.push("--env-add", `${key}=${value}`);
  args.push(...secretUpdateArgs(options.previous?.secrets ?? [], functionSecrets(config, spec)));
  for (const target of options.previous?.mounts ?? []) {
    if (!spec.volumes.some((volume) => volume.target === target)) args.push("--mount-rm", target);
  }
  for (const volume of spec.volumes) args.push("--mount-add", mountArgument(config, volume));
  args.push(spec.name);
  return args;
}

/**
 * Labels of a service of `services:`: its stack (so `funker rm` and
 * `docker stack` see it with the functions) and `io.funker.service`, which
 * tells it from a function.
 */
export function backingServiceLabels(config: FunkerConfig, spec: ServiceSpec): Record<string, string> {
  return { "io.funker.service": spec.name, "io.funker.stack": config.name, "com.docker.stack.namespace": config.name };
}

/**
 * `--publish`'s value for a service with a publish port: the host port, the
 * port inside, and host mode, on the node that runs the task. Services use
 * DNS round robin as functions do (`tasks.<name>` and `<name>` give the
 * tasks' own addresses), which Swarm's ingress mesh does not serve; it also
 * needs IPVS in the kernel, which some hosts lack.
 */
function publishArgument(spec: ServiceSpec): string | undefined {
  return spec.publish === undefined ? undefined : `published=${spec.publish},target=${spec.port},mode=host`;
}

/**
 * `docker service create` arguments for a service of `services:`: an
 * ordinary long-running service, as `docker stack deploy` would make it, on
 * the functions' network under its own name (so `<name>:<port>` reaches it),
 * restarted whenever it exits with Swarm's own delay, its volumes mounted and
 * its publish port published (in host mode: see `publishArgument`). The
 * image must exist: `funker build` builds functions only.
 */
export function backingServiceCreateArgs(config: FunkerConfig, spec: ServiceSpec, options: ServiceOptions = {}): string[] {
  const args = ["service", "create", "--detach", "--name", spec.name, "--network", networkArgument(config.network, options.networkAliases ?? [])];
  args.push("--endpoint-mode", "dnsrr", "--replicas", "1", "--restart-condition", "any");
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  for (const [key, value] of Object.entries(backingServiceLabels(config, spec))) args.push("--label", `${key}=${value}`);
  args.push("--container-label", `io.funker.service=${spec.name}`);
  for (const [key, value] of Object.entries(backingServiceEnvironment(config, spec))) args.push("--env", `${key}=${value}`);
  for (const secret of serviceSecrets(config)) args.push("--secret", secret);
  for (const volume of spec.volumes) args.push("--mount", mountArgument(config, volume));
  const publish = publishArgument(spec);
  if (publish !== undefined) args.push("--publish", publish);
  args.push(options.image ?? (spec.image as string));
  return args;
}

/**
 * `docker service update` arguments that bring a service of `services:` to
 * funker.yml. Unlike a function's update there is no `--force`: a database
 * is replaced only when something about it changed, which Swarm decides.
 * `previous` (the service's variable names, secrets, mount targets and
 * published target ports) lets the update remove what funker.yml no longer
 * lists.
 */
export function backingServiceUpdateArgs(
  config: FunkerConfig,
  spec: ServiceSpec,
  options: ServiceOptions & {
    readonly previous?: {
      readonly environment: readonly string[];
      readonly secrets?: readonly string[];
      readonly mounts?: readonly string[];
      readonly published?: readonly number[];
    };
  } = {},
): string[] {
  const args = ["service", "update", "--detach", "--image", options.image ?? (spec.image as string)];
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  for (const [key, value] of Object.entries(backingServiceLabels(config, spec))) args.push("--label-add", `${key}=${value}`);
  const environment = backingServiceEnvironment(config, spec);
  for (const name of options.previous?.environment ?? []) {
    if (!(name in environment)) args.push("--env-rm", name);
  }
  for (const [key, value] of Object.entries(environment)) args.push("--env-add", `${key}=${value}`);
  args.push(...secretUpdateArgs(options.previous?.secrets ?? [], serviceSecrets(config)));
  for (const target of options.previous?.mounts ?? []) {
    if (!spec.volumes.some((volume) => volume.target === target)) args.push("--mount-rm", target);
  }
  for (const volume of spec.volumes) args.push("--mount-add", mountArgument(config, volume));
  for (const target of options.previous?.published ?? []) {
    if (spec.publish === undefined || target !== spec.port) args.push("--publish-rm", String(target));
  }
  const publish = publishArgument(spec);
  if (publish !== undefined) args.push("--publish-add", publish);
  args.push(spec.name);
  return args;
}

/**
 * The autoscaler's service, which `funker deploy` adds with `autoscale: true`:
 * its name is the one clients ask for a replica of a function at zero
 * (`funker-autoscaler`, on the wake port 9997).
 */
export const AUTOSCALER_SERVICE = "funker-autoscaler";
/** Its image, built by `node docker/build-images.mjs`. */
export const AUTOSCALER_IMAGE = "funker/autoscaler";
/** The label that names the stack whose functions the autoscaler manages. */
export const AUTOSCALER_LABEL = "io.funker.autoscaler";

/** The autoscaler's labels: which stack it manages, and the stack's own (so `funker rm` removes it with the stack). */
export function autoscalerLabels(config: FunkerConfig): Record<string, string> {
  return { [AUTOSCALER_LABEL]: config.name, "io.funker.stack": config.name, "com.docker.stack.namespace": config.name };
}

/**
 * `docker service create` arguments for the autoscaler: one replica on a
 * manager (only a manager's engine lists and updates services), the Docker
 * socket mounted, on the functions' network (it reads their status ports
 * there, and callers reach its wake port by its name), managing only the
 * functions labelled with this stack.
 */
export function autoscalerCreateArgs(config: FunkerConfig, options: Pick<ServiceOptions, "image" | "resolveImage"> = {}): string[] {
  const args = ["service", "create", "--detach", "--name", AUTOSCALER_SERVICE, "--network", config.network];
  args.push("--endpoint-mode", "dnsrr", "--replicas", "1", "--restart-condition", "any", "--constraint", "node.role==manager");
  args.push("--mount", "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock");
  args.push("--env", `FUNKER_AUTOSCALE_LABELS=io.funker.stack=${config.name}`);
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  for (const [key, value] of Object.entries(autoscalerLabels(config))) args.push("--label", `${key}=${value}`);
  args.push(options.image ?? AUTOSCALER_IMAGE);
  return args;
}

/** `docker service update` arguments that bring the autoscaler to this image and stack. */
export function autoscalerUpdateArgs(config: FunkerConfig, options: Pick<ServiceOptions, "image" | "resolveImage"> = {}): string[] {
  const args = ["service", "update", "--detach", "--image", options.image ?? AUTOSCALER_IMAGE];
  if (options.resolveImage !== true) args.push("--no-resolve-image");
  args.push("--env-add", `FUNKER_AUTOSCALE_LABELS=io.funker.stack=${config.name}`);
  for (const [key, value] of Object.entries(autoscalerLabels(config))) args.push("--label-add", `${key}=${value}`);
  args.push(AUTOSCALER_SERVICE);
  return args;
}
