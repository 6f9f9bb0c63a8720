import { writeFileSync } from "node:fs";
import type { FunctionSpec, FunkerConfig, ServiceSpec } from "../config/funker-yml.js";
import type { TextSink } from "../terminal.js";
import { composeFile } from "./compose.js";
import type { ComposeOptions } from "./compose.js";
import { bundleForImage, planImageBuilds } from "./image.js";
import type { ImageBuildOptions } from "./image.js";
import { parseReplicas, parseUpdateStatus, watchRollout } from "./rollout.js";
import type { RolloutWatch, UpdateStatus } from "./rollout.js";
import { buildEnvironment, runDocker, tail } from "./run.js";
import {
  AUTOSCALER_LABEL,
  AUTOSCALER_SERVICE,
  autoscalerCreateArgs,
  autoscalerUpdateArgs,
  backingServiceCreateArgs,
  backingServiceUpdateArgs,
  networkCreateArgs,
  serviceCreateArgs,
  serviceUpdateArgs,
} from "./service.js";

/** Where the Docker verbs report progress (standard error for the CLI) and whether to show every line of Docker's output. */
export interface ProgressOptions {
  readonly output: TextSink;
  readonly verbose?: boolean;
}

export interface BuiltImage {
  readonly function: string;
  readonly image: string;
  readonly bundleBytes: number | undefined;
  readonly imageBytes: number | undefined;
  readonly durationMs: number;
}

export type BuildOutcome = { readonly ok: true; readonly images: readonly BuiltImage[] } | { readonly ok: false; readonly message: string };

/**
 * `funker build`: bundles each function and builds its image, one after the
 * other (parallel builds only fight for the same cores), reporting each step.
 * Stops at the first failure, with the bundler's or Docker's own message.
 */
export async function buildImages(config: FunkerConfig, options: ImageBuildOptions & ProgressOptions): Promise<BuildOutcome> {
  const steps = planImageBuilds(config, options);
  const environment = await buildEnvironment();
  const images: BuiltImage[] = [];
  for (const step of steps) {
    const started = performance.now();
    let bundleBytes: number | undefined;
    if (step.bundleEntry !== undefined) {
      const bundle = await bundleForImage({ entry: step.bundleEntry, outputFile: `${step.context}/handler.mjs`, workingDirectory: config.root });
      if (!bundle.ok) return { ok: false, message: `${step.function}: the bundle failed:\n${bundle.message}` };
      bundleBytes = bundle.bytes;
      writeFileSync(step.dockerfile, step.dockerfileText ?? "");
      options.output.write(`${step.function}: bundled ${formatBytes(bundle.bytes)} in ${Math.round(bundle.durationMs)} ms\n`);
    }
    options.output.write(`${step.function}: building ${step.image}\n`);
    const result = await runDocker(step.dockerArgs, {
      env: environment,
      onLine: options.verbose === true ? (line) => options.output.write(`${step.function} | ${line}\n`) : undefined,
    });
    if (result.code !== 0) {
      return { ok: false, message: `${step.function}: docker build failed (exit ${result.code}):\n${tail(`${result.stdout}${result.stderr}`)}` };
    }
    const imageBytes = await imageSize(step.image);
    const durationMs = performance.now() - started;
    images.push({ function: step.function, image: step.image, bundleBytes, imageBytes, durationMs });
    const size = imageBytes === undefined ? "" : `, ${formatBytes(imageBytes)}`;
    options.output.write(`${step.function}: built ${step.image}${size} in ${(durationMs / 1000).toFixed(1)} s\n`);
  }
  return { ok: true, images };
}

/** An image's size as Docker reports it (its layers, the base's included); undefined when Docker does not say. */
export async function imageSize(image: string): Promise<number | undefined> {
  const result = await runDocker(["image", "inspect", "--format", "{{.Size}}", image]);
  const bytes = Number(result.stdout.trim());
  return result.code === 0 && Number.isFinite(bytes) ? bytes : undefined;
}

export interface DeployOptions extends ProgressOptions {
  /** Only these functions and services (by name); all when absent or empty. */
  readonly only?: readonly string[];
  readonly imageFor?: (spec: FunctionSpec) => string;
  /** Replaces a service's image, when it returns one. */
  readonly serviceImageFor?: (spec: ServiceSpec) => string | undefined;
  /** Network aliases of a function's or a service's Docker service, given when it is created (see `ServiceOptions.networkAliases`). */
  readonly networkAliasesFor?: (spec: FunctionSpec | ServiceSpec) => readonly string[];
  readonly resolveImage?: boolean;
  /** The autoscaler's image with `autoscale: true` (default `funker/autoscaler`). */
  readonly autoscalerImage?: string;
  /**
   * How long to wait, for all services together, until each function's
   * rolling update has ended and every new service's replicas run; 0 returns
   * once Docker has the services. Default 2 min.
   */
  readonly waitMs?: number;
}

export type DeployOutcome = { readonly ok: true; readonly created: readonly string[]; readonly updated: readonly string[] } | { readonly ok: false; readonly message: string };

/**
 * `funker deploy`: makes the Swarm services match funker.yml. Checks the
 * engine is a Swarm manager, creates the attachable overlay network when it
 * is missing, creates or updates the services of `services:` (those with an
 * image), then one service per function (a service of the same name that
 * Funker did not create is left alone and reported), then waits until each
 * updated function's rolling update has ended (a paused or rolled-back
 * update is an error, with Swarm's message) and every new service's
 * replicas run.
 */
export async function deployFunctions(config: FunkerConfig, options: DeployOptions): Promise<DeployOutcome> {
  const { functions: specs, services } = selectDeployed(config, options.only);
  const swarm = await runDocker(["info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}"]);
  if (swarm.code !== 0) return { ok: false, message: `docker is not available:\n${tail(swarm.stderr)}` };
  if (swarm.stdout.trim() !== "active true") {
    return { ok: false, message: "this Docker engine is not a Swarm manager: run `docker swarm init` (or use `funker compose` for plain Compose)" };
  }
  const network = await runDocker(["network", "inspect", "--format", "{{.Driver}} {{.Attachable}}", config.network]);
  if (network.code !== 0) {
    const created = await runDocker(networkCreateArgs(config.network));
    if (created.code !== 0) return { ok: false, message: `could not create network ${config.network}:\n${tail(created.stderr)}` };
    options.output.write(`network ${config.network}: created (overlay, attachable)\n`);
  } else if (network.stdout.trim() !== "overlay true") {
    return { ok: false, message: `network ${config.network} exists but is not an attachable overlay network (${network.stdout.trim()})` };
  }

  const created: string[] = [];
  const updated: string[] = [];
  const waits: DeployWait[] = [];
  // The services first: the functions may need them from their first call.
  for (const spec of services) {
    if (spec.image === undefined) {
      options.output.write(`${spec.name}: not deployed (no image; it runs under funker dev only)\n`);
      continue;
    }
    const image = options.serviceImageFor?.(spec);
    const serviceOptions = { ...(image === undefined ? {} : { image }), resolveImage: options.resolveImage === true, networkAliases: options.networkAliasesFor?.(spec) ?? [] };
    const current = await inspectService(spec.name);
    if (current !== undefined && current.service !== spec.name) {
      return { ok: false, message: `a service named ${spec.name} exists and was not created by funker for services.${spec.name}; remove or rename it` };
    }
    const result = await runDocker(
      current === undefined ? backingServiceCreateArgs(config, spec, serviceOptions) : backingServiceUpdateArgs(config, spec, { ...serviceOptions, previous: current }),
    );
    if (result.code !== 0) return { ok: false, message: `${spec.name}: docker service failed (exit ${result.code}):\n${tail(result.stderr)}` };
    (current === undefined ? created : updated).push(spec.name);
    // Not forced, an update of a service may change no task and then has no
    // update status to wait for: its one replica running is the signal.
    waits.push({ name: spec.name, replicas: 1, countReplicas: true });
    const published = spec.publish === undefined ? "" : `, published on port ${spec.publish}`;
    options.output.write(`${spec.name}: ${current === undefined ? "created" : "updated"} (service, ${spec.name}:${spec.port} on ${config.network}${published})\n`);
  }
  for (const spec of specs) {
    const image = options.imageFor?.(spec);
    const serviceOptions = {
      ...(image === undefined ? {} : { image }),
      resolveImage: options.resolveImage === true,
      networkAliases: options.networkAliasesFor?.(spec) ?? [],
    };
    const current = await inspectService(spec.name);
    let result;
    if (current === undefined) {
      result = await runDocker(serviceCreateArgs(config, spec, serviceOptions));
      if (result.code === 0) created.push(spec.name);
    } else if (current.function !== spec.name) {
      return { ok: false, message: `a service named ${spec.name} exists and was not created by funker; remove or rename it` };
    } else {
      result = await runDocker(serviceUpdateArgs(config, spec, { ...serviceOptions, previous: current }));
      if (result.code === 0) updated.push(spec.name);
    }
    if (result.code !== 0) return { ok: false, message: `${spec.name}: docker service failed (exit ${result.code}):\n${tail(result.stderr)}` };
    options.output.write(`${spec.name}: ${current === undefined ? "created" : "updated"} (${spec.replicas} × ${spec.mode}, ${spec.endpointMode})\n`);
    // An update is forced, so Swarm replaces every replica and reports how
    // that went; its updater waits for each new replica to run, so the
    // count is checked only for replicas it does not replace (a scale-up).
    // Single-shot replicas under load are seldom all running at one instant.
    waits.push({
      name: spec.name,
      replicas: spec.replicas,
      countReplicas: current === undefined || spec.replicas > current.replicas,
      ...(current === undefined ? {} : { update: { before: current.updateStatus } }),
    });
  }

  if (config.autoscale && (options.only === undefined || options.only.length === 0)) {
    const current = await runDocker(["service", "inspect", "--format", `{{index .Spec.Labels "${AUTOSCALER_LABEL}"}}`, AUTOSCALER_SERVICE]);
    const managed = current.code === 0 ? current.stdout.trim() : undefined;
    if (managed !== undefined && managed !== config.name) {
      const owner = managed === "" || managed === "<no value>" ? "was not created by funker" : `manages the stack ${managed}`;
      return { ok: false, message: `a service named ${AUTOSCALER_SERVICE} exists and ${owner}: one autoscaler answers for the functions on a network; remove it or set autoscale: false` };
    }
    const autoscalerOptions = { ...(options.autoscalerImage === undefined ? {} : { image: options.autoscalerImage }), resolveImage: options.resolveImage === true };
    const result = await runDocker(managed === undefined ? autoscalerCreateArgs(config, autoscalerOptions) : autoscalerUpdateArgs(config, autoscalerOptions));
    if (result.code !== 0) return { ok: false, message: `${AUTOSCALER_SERVICE}: docker service failed (exit ${result.code}):\n${tail(result.stderr)}` };
    (managed === undefined ? created : updated).push(AUTOSCALER_SERVICE);
    waits.push({ name: AUTOSCALER_SERVICE, replicas: 1, countReplicas: true });
    options.output.write(`${AUTOSCALER_SERVICE}: ${managed === undefined ? "created" : "updated"} (autoscaler of stack ${config.name}, wake port 9997 on ${config.network})\n`);
  }

  const waitMs = options.waitMs ?? DEFAULT_DEPLOY_WAIT_MS;
  if (waitMs > 0) {
    const waited = await waitForDeployment(waits, waitMs, options.output);
    if (!waited.ok) return waited;
  }
  return { ok: true, created, updated };
}

/**
 * How long `funker deploy` waits by default: an update replaces replicas one
 * at a time, each after the last one runs (1.2-6 s on Swarm), then watches
 * for one more monitor period (up to 5 s), so ten replicas can take a minute.
 */
export const DEFAULT_DEPLOY_WAIT_MS = 120_000;

/** What `funker deploy` waits for on one service. */
interface DeployWait {
  readonly name: string;
  readonly replicas: number;
  /** Wait until `docker service ls` shows every replica running. */
  readonly countReplicas: boolean;
  /** Wait for the rolling update `funker deploy` started; `before` is the service's status before it. */
  readonly update?: { readonly before: UpdateStatus | undefined };
}

interface ServiceSummary {
  readonly function: string | undefined;
  /** The name of the service of `services:` it was deployed for. */
  readonly service: string | undefined;
  /** The target ports it publishes. */
  readonly published: readonly number[];
  readonly environment: readonly string[];
  readonly secrets: readonly string[];
  /** The targets of the service's mounts. */
  readonly mounts: readonly string[];
  /** Its replicas now (0 for a global service). */
  readonly replicas: number;
  readonly updateStatus: UpdateStatus | undefined;
}

async function inspectService(name: string): Promise<ServiceSummary | undefined> {
  const result = await runDocker(["service", "inspect", "--format", "{{json .Spec}}\n{{json .UpdateStatus}}", name]);
  if (result.code !== 0) return undefined;
  const [specLine = "", statusLine = "null"] = result.stdout.split("\n");
  const spec = JSON.parse(specLine) as {
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number } };
    TaskTemplate?: { ContainerSpec?: { Env?: string[]; Secrets?: { SecretName: string }[]; Mounts?: { Target: string }[] } };
    EndpointSpec?: { Ports?: { TargetPort: number }[] };
  };
  const container = spec.TaskTemplate?.ContainerSpec;
  return {
    function: spec.Labels?.["io.funker.function"],
    service: spec.Labels?.["io.funker.service"],
    published: (spec.EndpointSpec?.Ports ?? []).map((port) => port.TargetPort),
    environment: (container?.Env ?? []).map((entry) => entry.split("=", 1)[0] ?? entry),
    secrets: (container?.Secrets ?? []).map((secret) => secret.SecretName),
    mounts: (container?.Mounts ?? []).map((mount) => mount.Target),
    replicas: spec.Mode?.Replicated?.Replicas ?? 0,
    updateStatus: parseUpdateStatus(statusLine),
  };
}

/**
 * Polls each service until its rolling update has ended and, where asked,
 * it runs as many replicas as it should, reporting what it waits for. A
 * paused or rolled-back update ends the wait at once with Swarm's message.
 */
async function waitForDeployment(waits: readonly DeployWait[], waitMs: number, output: TextSink): Promise<{ ok: true } | { ok: false; message: string }> {
  const deadline = Date.now() + waitMs;
  const rollouts = new Map<string, RolloutWatch>();
  let last = "";
  for (;;) {
    const pending: string[] = [];
    for (const wait of waits) {
      if (wait.update !== undefined && rollouts.get(wait.name)?.kind !== "done") {
        const inspected = await runDocker(["service", "inspect", "--format", "{{json .UpdateStatus}}", wait.name]);
        const status = inspected.code === 0 ? parseUpdateStatus(inspected.stdout) : undefined;
        const rollout = watchRollout(status, wait.update.before, rollouts.get(wait.name));
        rollouts.set(wait.name, rollout);
        if (rollout.kind === "failed") {
          return { ok: false, message: `${wait.name}: ${rollout.message}; see docker service ps ${wait.name}` };
        }
        if (rollout.kind === "waiting") {
          pending.push(`${wait.name} ${rollout.what}`);
          continue;
        }
      }
      if (wait.countReplicas) {
        const listed = await runDocker(["service", "ls", "--filter", `name=${wait.name}`, "--format", "{{.Name}} {{.Replicas}}"]);
        const replicas = parseReplicas(listed.stdout, wait.name);
        if (replicas?.running !== wait.replicas || replicas.desired !== wait.replicas) {
          pending.push(`${wait.name} ${replicas?.running ?? 0}/${wait.replicas} replicas`);
        }
      }
    }
    if (pending.length === 0) return { ok: true };
    const now = pending.join(", ");
    if (now !== last) output.write(`waiting: ${now}\n`);
    last = now;
    if (Date.now() > deadline) {
      return { ok: false, message: `the deployment did not end within ${Math.round(waitMs / 1000)} s: ${now}; see docker service ps <name>` };
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export type RemoveOutcome = { readonly ok: true; readonly removed: readonly string[] } | { readonly ok: false; readonly message: string };

/**
 * `funker rm`: removes the Swarm services of this funker.yml's stack (those
 * labelled `io.funker.stack=<name>`: its functions and its services), or
 * only those named. The network and the volumes stay: callers and other
 * stacks may share the network, and a volume holds data.
 */
export async function removeFunctions(config: FunkerConfig, options: ProgressOptions & { readonly only?: readonly string[] }): Promise<RemoveOutcome> {
  const listed = await runDocker(["service", "ls", "--filter", `label=io.funker.stack=${config.name}`, "--format", "{{.Name}}"]);
  if (listed.code !== 0) return { ok: false, message: `docker service ls failed:\n${tail(listed.stderr)}` };
  let names = listed.stdout.split("\n").filter((name) => name !== "");
  if (options.only !== undefined && options.only.length > 0) names = names.filter((name) => options.only?.includes(name));
  if (names.length === 0) {
    options.output.write(`nothing to remove: no service of stack ${config.name}\n`);
    return { ok: true, removed: [] };
  }
  const result = await runDocker(["service", "rm", ...names]);
  if (result.code !== 0) return { ok: false, message: `docker service rm failed:\n${tail(result.stderr)}` };
  for (const name of names) options.output.write(`${name}: removed\n`);
  return { ok: true, removed: names };
}

/** `funker compose`: writes the compose file (to `file`, or returns it for standard output when `file` is "-"). */
export function writeComposeFile(config: FunkerConfig, file: string, options: ComposeOptions & ProgressOptions): string {
  const text = composeFile(config, options);
  if (file !== "-") {
    writeFileSync(file, text);
    const services = config.services.length === 0 ? "" : `, ${config.services.length} services`;
    options.output.write(`wrote ${file} (${config.functions.length} functions${services}); start it with: docker-compose -f ${file} up -d\n`);
  }
  return text;
}

function selectDeployed(config: FunkerConfig, only: readonly string[] | undefined): { functions: FunctionSpec[]; services: ServiceSpec[] } {
  if (only === undefined || only.length === 0) return { functions: [...config.functions], services: [...config.services] };
  const known = [...config.functions, ...config.services].map((spec) => spec.name);
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`no function or service ${unknown.map((name) => `"${name}"`).join(", ")} in ${config.file}`);
  return { functions: config.functions.filter((spec) => only.includes(spec.name)), services: config.services.filter((spec) => only.includes(spec.name)) };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024).toFixed(1)} kB`;
}
