import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Writable } from "node:stream";
import { DOCKER_SECRETS_FOLDER, SECRETS_FOLDER_VARIABLE, SETTINGS } from "@funker/handler/contract";
import { bundleFunction, relativeTo, sourceFolders } from "../bundle.js";
import { ConfigError } from "../config/funker-yml.js";
import type { FunctionSpec, FunkerConfig, ServiceSpec, VolumeSpec } from "../config/funker-yml.js";
import { settingsEnvironment } from "../config/handler-settings.js";
import { keySecrets } from "../config/signing-keys.js";
import { formatDuration } from "../duration.js";
import { ExitCode, exitCodeOf } from "../exit-code.js";
import { painter } from "../terminal.js";
import type { Painter } from "../terminal.js";
import { ENDPOINTS_VARIABLE, formatEndpoints, protocolPins } from "./endpoints.js";
import type { EndpointMap } from "./endpoints.js";
import { allocateFreePorts, isPortFree, LOCAL_HOST, readSocketTable } from "./ports.js";
import { Replica, writeExitWithRuntimeModule } from "./replica.js";
import type { ReplicaHost, ReplicaProgram } from "./replica.js";
import { DEV_SECRETS_FOLDER, DevSecrets } from "./secrets.js";
import { formatServices, rewriteServiceAddresses, serviceAddresses, SERVICES_VARIABLE } from "./services.js";
import type { ServiceAddress } from "./services.js";
import { DevLog, devLogPath } from "./log-file.js";
import { readState, removeState, writeState } from "./state.js";
import type { FunctionStatus, ServiceStatus } from "./state.js";

export interface DevOptions {
  readonly config: FunkerConfig;
  /** A command to run once every replica listens, with `FUNKER_ENDPOINTS` set; the runtime stops when it exits. */
  readonly command?: readonly string[] | undefined;
  /** Stay up after the command exits (until Ctrl-C). */
  readonly keep?: boolean;
  /** Rebuild and restart a function when its source changes. */
  readonly watch?: boolean;
  /** Give replicas consecutive ports from this one, instead of free ports picked at random. */
  readonly portBase?: number | undefined;
  /** Run each function's replicas under Node's inspector, on consecutive ports from this one. */
  readonly inspectBase?: number | undefined;
  /** Run a service that has `publish` on that port (the default); false gives it a free port like the others. */
  readonly publish?: boolean;
  /** How long the command waits for every replica to listen. */
  readonly readyTimeoutMs?: number;
  /** The folder that holds a folder per named volume; `.funker/volumes` beside funker.yml by default. */
  readonly volumesDirectory?: string | undefined;
  /** The folder that holds a file per secret; `secrets` beside funker.yml by default. */
  readonly secretsDirectory?: string | undefined;
  /** Where the runtime's and the replicas' lines go (stdout belongs to the command). */
  readonly output: Writable;
  readonly colour: boolean;
}

/** How often the kernel's socket table is read while replicas start: cheap (one small file), and quick enough for people. */
const LISTEN_POLL_MS = 50;
/** Editors write a file in several steps; one rebuild for them all. */
const WATCH_DEBOUNCE_MS = 150;
/** State file writes are coalesced: a busy single-shot function restarts many times a second. */
const STATE_WRITE_DELAY_MS = 100;

/** Tells each replica its number in its function (1-based), as the `add.1 |` prefix shows it; for the function's own logs. */
const REPLICA_VARIABLE = "FUNKER_REPLICA";
/** Tell a service where to listen, as many servers and frameworks read them (Heroku's and Cloud Run's PORT). */
const SERVICE_PORT_VARIABLE = "PORT";
const SERVICE_HOST_VARIABLE = "HOST";

/** Where `funker dev` keeps named volumes' folders, under the folder of funker.yml. */
export const DEV_VOLUMES_FOLDER = join(".funker", "volumes");

/**
 * The local folder that stands for a volume under `funker dev`, which runs
 * processes and so mounts nothing: a folder of `volumesDirectory` named
 * after a named volume (shared by the functions that name it, as the volume
 * is), or a bind mount's host path itself.
 */
export function localVolumeFolder(volume: VolumeSpec, volumesDirectory: string): string {
  return volume.type === "bind" ? volume.source : join(volumesDirectory, volume.source);
}

/**
 * A function's or service's own variables as `funker dev` gives them: a
 * value that is a volume's target, or a path inside it (`VOTES_DIR: /votes`),
 * names the volume's local folder instead; one inside /run/secrets
 * (`DB_PASSWORD_FILE: /run/secrets/db-password`) the function's private
 * copy of its secrets; and a service's Docker address (`db:5432`, in a URL
 * too) its local address. So the same funker.yml serves a laptop and a Swarm.
 */
export function localEnvironment(
  spec: Pick<FunctionSpec, "environment" | "volumes">,
  volumesDirectory: string,
  secretsFolder?: string,
  services: readonly ServiceAddress[] = [],
): Record<string, string> {
  const folders = spec.volumes.map((volume) => ({ target: volume.target, local: localVolumeFolder(volume, volumesDirectory) }));
  if (secretsFolder !== undefined) folders.push({ target: DOCKER_SECRETS_FOLDER, local: secretsFolder });
  const environment: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.environment)) {
    const folder = folders.find((candidate) => value === candidate.target || value.startsWith(`${candidate.target}/`));
    environment[name] = folder === undefined ? rewriteServiceAddresses(value, services) : `${folder.local}${value.slice(folder.target.length)}`;
  }
  return environment;
}

interface RunningFunction {
  readonly spec: FunctionSpec;
  readonly replicas: Replica[];
  bundle: string;
  inputs: readonly string[];
  buildError: string | undefined;
  watchers: FSWatcher[];
  rebuildTimer: NodeJS.Timeout | undefined;
  rebuilding: Promise<void> | undefined;
}

interface RunningService {
  readonly spec: ServiceSpec;
  /** Its one slot (`mode: "service"`), on its local port. */
  readonly slot: Replica;
  readonly command: readonly string[];
}

/**
 * The local runtime: every function of `funker.yml` bundled and run as local
 * processes on 127.0.0.1, replicas restarted as Swarm would, output prefixed
 * as Compose does. Resolves with the exit code once it has stopped every
 * process it started.
 */
export async function runDev(options: DevOptions): Promise<number> {
  const runtime = new DevRuntime(options);
  return runtime.run();
}

class DevRuntime implements ReplicaHost {
  readonly commandWaits: boolean;
  readonly exitWithRuntimeFile: string;
  private readonly paint: Painter;
  private readonly functions = new Map<string, RunningFunction>();
  private readonly services = new Map<string, RunningService>();
  private addresses: ServiceAddress[] = [];
  private readonly labelWidth: number;
  private endpoints: EndpointMap = {};
  private command: ChildProcess | undefined;
  private poller: NodeJS.Timeout | undefined;
  private stateTimer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();
  private stopping: Promise<void> | undefined;
  private resolveExit!: (code: number) => void;
  private readonly exited = new Promise<number>((resolve) => (this.resolveExit = resolve));
  private readonly removeSignalHandlers: () => void;
  private readonly volumesDirectory: string;
  private readonly secretsDirectory: string;
  private secrets: DevSecrets | undefined;
  /** The replicas' lines for `funker logs`; opened once this runtime is the one running here. */
  private log: DevLog | undefined;

  constructor(private readonly options: DevOptions) {
    this.paint = painter(options.colour);
    this.commandWaits = options.command !== undefined && options.command.length > 0;
    this.volumesDirectory = resolve(options.config.root, options.volumesDirectory ?? DEV_VOLUMES_FOLDER);
    this.secretsDirectory = resolve(options.config.root, options.secretsDirectory ?? DEV_SECRETS_FOLDER);
    this.exitWithRuntimeFile = join(options.config.root, ".funker", "exit-with-runtime.mjs");
    const labels = [...options.config.functions.map((spec) => `${spec.name}.${spec.replicas}`), ...options.config.services.map((spec) => spec.name)];
    this.labelWidth = Math.max(6, ...labels.map((label) => label.length));
    this.removeSignalHandlers = this.installSignalHandlers();
  }

  async run(): Promise<number> {
    const { config } = this.options;
    const running = readState(config.root);
    if (running !== undefined && running.pid !== process.pid) {
      this.say(this.paint.red(`funker dev is already running here (pid ${running.pid}); stop it first, or use \`funker call\` against it`));
      return this.finish(ExitCode.usage);
    }
    if (config.functions.length === 0) {
      this.say(this.paint.red(`no functions in ${relativeTo(process.cwd(), config.file)}`));
      return this.finish(ExitCode.usage);
    }
    try {
      this.secrets = DevSecrets.create(config, this.secretsDirectory);
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        this.say(this.paint.red(`cannot copy the secrets: ${(error as Error).message}`));
        return this.finish(ExitCode.failed);
      }
      this.say(error.message);
      return this.finish(ExitCode.usage);
    }

    this.say(`building ${config.functions.length} function${config.functions.length === 1 ? "" : "s"} from ${relativeTo(process.cwd(), config.file)}`);
    const builds = await Promise.all(
      config.functions.map(async (spec) => ({ spec, result: await bundleFunction({ name: spec.name, entry: spec.entry, root: config.root }) })),
    );
    let buildFailed = false;
    for (const { spec, result } of builds) {
      if (result.ok) {
        this.say(`  ${this.paint.green("✓")} ${spec.name} ${this.paint.dim(`(${relativeTo(config.root, spec.entry)}, ${formatDuration(result.durationMs)})`)}`);
      } else {
        buildFailed = true;
        this.say(`  ${this.paint.red("✗")} ${spec.name}: build failed (${relativeTo(config.root, spec.entry)})`);
        for (const line of result.message.split("\n")) this.say(`    ${line}`);
      }
    }
    if (buildFailed) {
      this.say(this.paint.red("a function failed to build; nothing was started"));
      return this.finish(ExitCode.failed);
    }
    if (this.stopping !== undefined) return this.exited;

    for (const spec of config.functions) {
      for (const volume of spec.volumes) {
        const folder = localVolumeFolder(volume, this.volumesDirectory);
        mkdirSync(folder, { recursive: true });
        this.say(this.paint.dim(`${spec.name}: volume ${volume.source}:${volume.target} is the folder ${relativeTo(process.cwd(), folder)} here (nothing is mounted)`));
      }
      if (spec.secrets.length > 0) {
        const source = relativeTo(process.cwd(), this.secretsDirectory);
        this.say(this.paint.dim(`${spec.name}: secrets ${spec.secrets.join(", ")} from ${source}/, copied to the private folder ${SECRETS_FOLDER_VARIABLE} names (${DOCKER_SECRETS_FOLDER} on Docker)`));
      }
    }
    const keys = keySecrets(config);
    if (keys.length > 0) {
      const source = relativeTo(process.cwd(), this.secretsDirectory);
      const names = keys.map((secret) => secret.name).join(", ");
      this.say(this.paint.dim(`signed calls: keys ${names} from ${source}/, given to every replica, service and command; a change to them reaches running replicas within a second or two`));
      this.secrets?.watchKeys((change) => {
        if (change.ok) this.say(this.paint.dim(`${change.secret}: keys changed (${change.keys} key${change.keys === 1 ? "" : "s"}), copied for the replicas`));
        else this.say(this.paint.yellow(`${change.secret}: keys not copied, the replicas keep the previous ones: ${change.message}`));
      });
    }

    const local = config.services.filter((spec) => spec.command !== undefined);
    for (const spec of config.services) {
      if (spec.command === undefined) {
        this.say(this.paint.dim(`${spec.name}: no command, so it does not run here (its image runs under the Docker verbs); variables naming ${spec.name}:${spec.port} are left as they are`));
        continue;
      }
      for (const volume of spec.volumes) {
        const folder = localVolumeFolder(volume, this.volumesDirectory);
        mkdirSync(folder, { recursive: true });
        this.say(this.paint.dim(`${spec.name}: volume ${volume.source}:${volume.target} is the folder ${relativeTo(process.cwd(), folder)} here (nothing is mounted)`));
      }
    }
    // A published service listens where people open it; the others on free ports, which only the runtime needs to know.
    const published = local.filter((spec) => spec.publish !== undefined && this.options.publish !== false);
    for (const spec of published) {
      const check = await isPortFree(spec.publish as number);
      if (!check.free) {
        this.say(this.paint.red(`port ${spec.publish} of service ${spec.name} (publish) on ${LOCAL_HOST} is ${check.reason}; stop what listens there, or run with --no-publish to give it a free port`));
        return this.finish(ExitCode.failed);
      }
    }
    const freeServicePorts = await allocateFreePorts(local.length - published.length);
    const servicePorts = new Map(local.map((spec) => [spec.name, published.includes(spec) ? (spec.publish as number) : (freeServicePorts.shift() as number)]));
    this.addresses = serviceAddresses(local, servicePorts, LOCAL_HOST);

    const replicaCount = config.functions.reduce((sum, spec) => sum + spec.replicas, 0);
    let ports: number[];
    if (this.options.portBase !== undefined) {
      ports = Array.from({ length: replicaCount }, (_, offset) => (this.options.portBase as number) + offset);
      for (const port of ports) {
        const check = await isPortFree(port);
        if (!check.free) {
          this.say(this.paint.red(`port ${port} on ${LOCAL_HOST} is ${check.reason}; choose another --port or stop what listens there`));
          return this.finish(ExitCode.failed);
        }
      }
    } else {
      ports = await allocateFreePorts(replicaCount);
    }

    const endpoints: Record<string, string[]> = {};
    let next = 0;
    for (const { spec, result } of builds) {
      if (!result.ok) continue;
      const replicas: Replica[] = [];
      for (let index = 1; index <= spec.replicas; index += 1) {
        replicas.push(new Replica(spec.name, index, ports[next++] as number, spec.mode, spec.directory, this, spec.protocol === "legacy"));
      }
      endpoints[spec.name] = replicas.map((replica) => `${LOCAL_HOST}:${replica.port}`);
      this.functions.set(spec.name, {
        spec,
        replicas,
        bundle: result.file,
        inputs: result.inputs,
        buildError: undefined,
        watchers: [],
        rebuildTimer: undefined,
        rebuilding: undefined,
      });
    }
    this.endpoints = endpoints;
    if (this.options.inspectBase !== undefined) {
      let inspectPort = this.options.inspectBase;
      for (const running of this.functions.values()) {
        for (const replica of running.replicas) {
          replica.inspectPort = inspectPort++;
          this.say(`${replica.label}: inspector on ${LOCAL_HOST}:${replica.inspectPort} (open chrome://inspect, or attach an editor's debugger there)`);
        }
      }
    }
    for (const spec of local) {
      const slot = new Replica(spec.name, 1, servicePorts.get(spec.name) as number, "service", config.root, this);
      this.services.set(spec.name, { spec, slot, command: spec.command as readonly string[] });
    }
    if (this.stopping !== undefined) return this.exited;
    writeExitWithRuntimeModule(this.exitWithRuntimeFile);
    this.log = new DevLog(devLogPath(config.root));
    this.writeStateNow();

    // Services first: functions and the command may need them from their first call.
    for (const service of this.services.values()) service.slot.start();
    for (const running of this.functions.values()) {
      for (const replica of running.replicas) replica.start();
      if (this.options.watch !== false) this.watchSources(running);
    }
    this.poller = setInterval(() => void this.pollListening(), LISTEN_POLL_MS);

    if (!this.commandWaits) {
      // Without a command the runtime stays up whatever happens, retrying failing replicas with back-off.
      this.say(this.paint.dim("Ctrl-C stops every function; `funker call <name>` in another terminal calls them"));
      void this.waitUntilListening(false).then((ready) => {
        if (ready.ok && this.stopping === undefined) this.sayReady();
      });
      return this.exited;
    }
    const ready = await this.waitUntilListening(true);
    if (this.stopping !== undefined) return this.exited;
    if (!ready.ok) {
      this.say(this.paint.red(ready.reason));
      void this.shutdown(ExitCode.failed);
      return this.exited;
    }
    this.sayReady();
    this.runCommand(this.options.command as readonly string[]);
    return this.exited;
  }

  /** FUNKER_ENDPOINTS's value: every replica, and the wire protocol each function is pinned to. */
  private endpointsVariable(): string {
    return formatEndpoints(this.endpoints, protocolPins(this.options.config.functions));
  }

  private sayReady(): void {
    const services = this.addresses.length === 0 ? "" : `, ${SERVICES_VARIABLE}=${formatServices(this.addresses)}`;
    this.say(`${this.paint.green("ready")}: FUNKER_ENDPOINTS=${this.endpointsVariable()}${services}`);
  }

  /** Every slot: the functions' replicas, then the services. */
  private slots(): Replica[] {
    return [...[...this.functions.values()].flatMap((running) => running.replicas), ...[...this.services.values()].map((service) => service.slot)];
  }

  // ReplicaHost

  program(replica: Replica): ReplicaProgram {
    if (replica.mode === "service") {
      const service = this.services.get(replica.functionName);
      if (service === undefined) throw new Error(`unknown service ${replica.functionName}`);
      return { command: service.command };
    }
    const running = this.functions.get(replica.functionName);
    if (running === undefined) throw new Error(`unknown function ${replica.functionName}`);
    return { bundle: running.bundle };
  }

  environment(replica: Replica): NodeJS.ProcessEnv {
    if (replica.mode === "service") return this.serviceEnvironment(replica);
    const spec = this.functions.get(replica.functionName)?.spec;
    const secretsFolder = this.secrets?.folderOf(replica.functionName);
    const environment: NodeJS.ProcessEnv = {
      ...process.env,
      ...(spec === undefined ? {} : localEnvironment(spec, this.volumesDirectory, secretsFolder, this.addresses)),
    };
    // Only the secrets the function declares, as on Docker; never a folder inherited from this process's environment.
    if (secretsFolder === undefined) delete environment[SECRETS_FOLDER_VARIABLE];
    else environment[SECRETS_FOLDER_VARIABLE] = secretsFolder;
    this.giveKeys(environment);
    environment[SETTINGS.port.variable] = String(replica.port);
    environment[SETTINGS.host.variable] = LOCAL_HOST;
    Object.assign(environment, settingsEnvironment(replica.functionName, { ...spec?.handlerSettings, mode: replica.mode }));
    // Here the caller is the function's author, who wants the stack (source-mapped, in `funker call` and the dev log);
    // a value the function or this shell gives still wins.
    environment[SETTINGS.exposeStacks.variable] ??= "true";
    environment[ENDPOINTS_VARIABLE] = this.endpointsVariable();
    environment[REPLICA_VARIABLE] = String(replica.index);
    if (this.addresses.length > 0) environment[SERVICES_VARIABLE] = formatServices(this.addresses);
    return environment;
  }

  /** A service's: its own variables (volumes and services made local), where to listen, and where the functions and the other services are. */
  private serviceEnvironment(replica: Replica): NodeJS.ProcessEnv {
    const spec = this.services.get(replica.functionName)?.spec;
    const environment: NodeJS.ProcessEnv = {
      ...process.env,
      ...(spec === undefined ? {} : localEnvironment(spec, this.volumesDirectory, undefined, this.addresses)),
      [SERVICE_PORT_VARIABLE]: String(replica.port),
      [SERVICE_HOST_VARIABLE]: LOCAL_HOST,
      [ENDPOINTS_VARIABLE]: this.endpointsVariable(),
      [SERVICES_VARIABLE]: formatServices(this.addresses),
    };
    delete environment[SECRETS_FOLDER_VARIABLE];
    this.giveKeys(environment);
    return environment;
  }

  /**
   * The command's: this process's, with the functions' and services'
   * addresses, and the stack's keys when funker.yml names any (else its
   * own, if it has them, since signing a call to a function without keys
   * does no harm).
   */
  private commandEnvironment(): NodeJS.ProcessEnv {
    const environment: NodeJS.ProcessEnv = {
      ...process.env,
      [ENDPOINTS_VARIABLE]: this.endpointsVariable(),
      ...(this.addresses.length === 0 ? {} : { [SERVICES_VARIABLE]: formatServices(this.addresses) }),
    };
    return keySecrets(this.options.config).length === 0 ? environment : this.giveKeys(environment);
  }

  /** Sets the key variables as funker.yml's `secret:` says, replacing (or removing) any inherited from the terminal. */
  private giveKeys(environment: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    for (const [name, value] of Object.entries(this.secrets?.keyEnvironment() ?? {})) {
      if (value === undefined) delete environment[name];
      else environment[name] = value;
    }
    return environment;
  }

  output(replica: Replica, line: string, kind: "stdout" | "stderr" | "event" | "warning"): void {
    const { functions, services } = this.options.config;
    const index = replica.mode === "service" ? functions.length + services.findIndex((spec) => spec.name === replica.functionName) : functions.findIndex((spec) => spec.name === replica.functionName);
    const prefix = this.paint.nth(index, `${replica.label.padEnd(this.labelWidth)} |`);
    const text = kind === "warning" ? this.paint.yellow(line) : kind === "event" ? this.paint.dim(line) : line;
    this.options.output.write(`${prefix} ${text}\n`);
    this.log?.write(`${replica.label.padEnd(this.labelWidth)} | ${line}`);
  }

  changed(): void {
    if (this.stateTimer !== undefined || this.stopping !== undefined) return;
    this.stateTimer = setTimeout(() => {
      this.stateTimer = undefined;
      if (this.stopping === undefined) this.writeStateNow();
    }, STATE_WRITE_DELAY_MS);
  }

  private say(line: string): void {
    this.options.output.write(`${line}\n`);
  }

  private writeStateNow(): void {
    const functions: Record<string, FunctionStatus> = {};
    for (const [name, running] of this.functions) {
      functions[name] = {
        mode: running.spec.mode,
        entry: relativeTo(this.options.config.root, running.spec.entry),
        buildError: running.buildError,
        replicas: running.replicas.map((replica) => replica.status()),
      };
    }
    const services: Record<string, ServiceStatus> = {};
    for (const [name, service] of this.services) {
      services[name] = { address: `${LOCAL_HOST}:${service.slot.port}`, slot: service.slot.status() };
    }
    writeState(this.options.config.root, {
      pid: process.pid,
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      configFile: this.options.config.file,
      endpoints: this.endpoints,
      functions,
      services,
    });
  }

  private async pollListening(): Promise<void> {
    const starting = this.slots().filter((replica) => replica.state === "starting" && !replica.reportsReadiness);
    if (starting.length === 0) return;
    const table = await readSocketTable();
    for (const replica of starting) {
      // Without /proc (not Linux) there is no way to look without connecting; a replica is taken as up once its process runs.
      if (table === undefined ? replica.pid !== undefined : table.listening.has(replica.port)) replica.markListening();
    }
  }

  /** Resolves when every replica has listened once; with `giveUp`, fails when one keeps failing or the ready timeout passes. */
  private async waitUntilListening(giveUp: boolean): Promise<{ ok: true } | { ok: false; reason: string }> {
    const replicas = this.slots();
    const deadline = giveUp ? Date.now() + (this.options.readyTimeoutMs ?? 60_000) : Number.POSITIVE_INFINITY;
    for (;;) {
      if (this.stopping !== undefined) return { ok: true };
      const waiting = replicas.filter((replica) => !replica.hasListened);
      if (waiting.length === 0) return { ok: true };
      const failing = waiting.find((replica) => replica.gaveUp !== undefined);
      if (giveUp && failing !== undefined) {
        return { ok: false, reason: `${failing.label} ${failing.gaveUp} (last: ${failing.lastError?.message ?? "unknown"}); stopping` };
      }
      if (Date.now() > deadline) {
        return { ok: false, reason: `${waiting.map((replica) => replica.label).join(", ")} did not start listening in time; stopping` };
      }
      await new Promise((resolve) => setTimeout(resolve, LISTEN_POLL_MS));
    }
  }

  private runCommand(command: readonly string[]): void {
    const [file, ...args] = command;
    this.say(this.paint.dim(`running: ${command.join(" ")}`));
    const child = spawn(file as string, args, {
      stdio: "inherit",
      env: this.commandEnvironment(),
    });
    this.command = child;
    child.on("error", (error) => {
      this.say(this.paint.red(`cannot run ${file}: ${error.message}`));
      this.command = undefined;
      void this.shutdown(ExitCode.failed);
    });
    child.on("exit", (code, signal) => {
      this.command = undefined;
      const exitCode = exitCodeOf(code, signal);
      if (this.options.keep === true) {
        this.say(this.paint.dim(`${basename(file as string)} exited with code ${exitCode}; still running (Ctrl-C stops)`));
        return;
      }
      void this.shutdown(exitCode);
    });
  }

  private watchSources(running: RunningFunction): void {
    for (const watcher of running.watchers) watcher.close();
    running.watchers = [];
    const inputs = new Set(running.inputs);
    for (const folder of sourceFolders(running.inputs)) {
      try {
        const watcher = watch(folder, (_event, filename) => {
          if (filename === null || inputs.has(join(folder, filename.toString()))) this.scheduleRebuild(running);
        });
        watcher.on("error", () => undefined);
        running.watchers.push(watcher);
      } catch {
        // A folder that vanished since the build; the next rebuild watches what exists.
      }
    }
  }

  private scheduleRebuild(running: RunningFunction): void {
    if (this.stopping !== undefined) return;
    if (running.rebuildTimer !== undefined) clearTimeout(running.rebuildTimer);
    running.rebuildTimer = setTimeout(() => {
      running.rebuildTimer = undefined;
      running.rebuilding = (running.rebuilding ?? Promise.resolve()).then(() => this.rebuild(running));
    }, WATCH_DEBOUNCE_MS);
  }

  private async rebuild(running: RunningFunction): Promise<void> {
    if (this.stopping !== undefined) return;
    const { spec } = running;
    this.say(this.paint.dim(`${spec.name}: source changed, rebuilding`));
    const result = await bundleFunction({ name: spec.name, entry: spec.entry, root: this.options.config.root });
    if (this.stopping !== undefined) return;
    if (!result.ok) {
      running.buildError = result.message;
      this.say(this.paint.red(`${spec.name}: build failed; the replicas keep running the previous build`));
      for (const line of result.message.split("\n")) this.say(`    ${line}`);
      this.changed();
      return;
    }
    running.buildError = undefined;
    running.bundle = result.file;
    running.inputs = result.inputs;
    this.watchSources(running);
    this.say(`${this.paint.green("✓")} ${spec.name} rebuilt ${this.paint.dim(`(${formatDuration(result.durationMs)})`)}; restarting its replicas`);
    await Promise.all(running.replicas.map((replica) => replica.replace()));
    this.changed();
  }

  private installSignalHandlers(): () => void {
    const onInterrupt = (): void => void this.shutdown(ExitCode.interrupted);
    const onTerminate = (): void => void this.shutdown(ExitCode.terminated);
    process.on("SIGINT", onInterrupt);
    process.on("SIGTERM", onTerminate);
    process.on("SIGHUP", onTerminate);
    return () => {
      process.off("SIGINT", onInterrupt);
      process.off("SIGTERM", onTerminate);
      process.off("SIGHUP", onTerminate);
    };
  }

  private finish(code: number): Promise<number> {
    this.secrets?.remove();
    // The file stays: the last run's output, until the next run empties it.
    this.log?.close();
    this.removeSignalHandlers();
    this.resolveExit(code);
    return this.exited;
  }

  /** Stops everything this runtime started; a second Ctrl-C while stopping kills what is left. */
  private shutdown(code: number): Promise<void> {
    if (this.stopping !== undefined) {
      if (code === ExitCode.interrupted || code === ExitCode.terminated) {
        for (const replica of this.slots()) replica.kill("SIGKILL");
      }
      return this.stopping;
    }
    this.stopping = (async () => {
      if (this.poller !== undefined) clearInterval(this.poller);
      if (this.stateTimer !== undefined) clearTimeout(this.stateTimer);
      for (const running of this.functions.values()) {
        for (const watcher of running.watchers) watcher.close();
        if (running.rebuildTimer !== undefined) clearTimeout(running.rebuildTimer);
      }
      const command = this.command;
      const commandExited =
        command === undefined ? Promise.resolve() : new Promise<void>((resolve) => command.once("exit", () => resolve()));
      command?.kill("SIGTERM");
      await Promise.all([...this.functions.values()].flatMap((running) => running.replicas.map((replica) => replica.stop())));
      // The services last: a function finishing its last call may still need its database.
      await Promise.all([...this.services.values()].map((service) => service.slot.stop()));
      await commandExited;
      removeState(this.options.config.root, process.pid);
      if (code === ExitCode.interrupted || code === ExitCode.terminated) this.say(this.paint.dim("stopped every function"));
      void this.finish(code);
    })();
    return this.stopping;
  }
}
