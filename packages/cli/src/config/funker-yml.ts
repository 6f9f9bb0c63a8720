import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, posix, relative, resolve } from "node:path";
import { expectedValue, isDurationTooLong, parseDuration, SECRET_NAME, SETTINGS } from "@funker/handler/contract";
import type { HandlerMode, Setting, SettingName } from "@funker/handler/contract";
import { MAX_FUNCTION_NAME_LENGTH } from "@funker/protocol";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node, Scalar, YAMLMap } from "yaml";
import { FUNKER_YML_SETTINGS } from "./handler-settings.js";
import type { HandlerSettings } from "./handler-settings.js";

/** The file name `funker` looks for, from the working directory upwards. */
export const CONFIG_FILE_NAME = "funker.yml";

/** The handler's modes (`HandlerMode` of `@funker/handler/contract`). */
export type FunctionMode = HandlerMode;
/** Swarm's endpoint modes: `dnsrr` gives callers every replica's address, `vip` one virtual address. */
export type EndpointMode = "dnsrr" | "vip";
/** The wire format callers use for a function: `auto` finds out; `legacy` for a function that still runs a 2017 Funker library. */
export type CallerProtocol = "auto" | "framed" | "legacy";

/**
 * Bounds for the autoscaler; `idleMs` is how long a function may sit unused before it scales down to `min`, `warm`
 * the free calls it keeps ready (undefined: the autoscaler's defaults).
 */
export interface ScaleSpec {
  readonly min: number;
  readonly max: number;
  readonly idleMs: number | undefined;
  readonly warm: number | undefined;
}

/**
 * A folder mounted into a function's replicas, written `<source>:<target>[:ro]`
 * as Compose writes it. A named volume (`votes:/votes`) outlives the
 * replicas and is shared by every function that names it; an absolute host
 * path (`/srv/votes:/votes`) is a bind mount.
 */
export interface VolumeSpec {
  readonly type: "volume" | "bind";
  /** The volume's name as written in funker.yml (Docker's is `<stack>_<name>`), or the host path, absolute. */
  readonly source: string;
  /** Where the replicas see it, absolute. */
  readonly target: string;
  readonly readOnly: boolean;
}

/** One function of `funker.yml`, checked, with paths made absolute. */
export interface FunctionSpec {
  readonly name: string;
  /** The module that calls `handler()`, absolute. */
  readonly entry: string;
  /** The folder of the function's package (the nearest package.json above the entry), absolute. */
  readonly directory: string;
  /** The image `funker build` produces and `funker deploy` runs. */
  readonly image: string;
  readonly replicas: number;
  readonly mode: FunctionMode;
  /** The longest a call may run (`FUNKER_TIMEOUT`); undefined = the handler's default. */
  readonly timeoutMs: number | undefined;
  /** Calls served at once by a reuse-mode replica, or processes kept by a fresh one (`FUNKER_CONCURRENCY`). */
  readonly concurrency: number | undefined;
  /** A reuse-mode replica exits after this many calls (`FUNKER_MAX_CALLS`), to be replaced. */
  readonly maxCalls: number | undefined;
  /**
   * Every handler setting funker.yml gave for the function (its `mode`
   * always), by option name, durations in milliseconds: what the replicas
   * get as the handler's variables.
   */
  readonly handlerSettings: HandlerSettings;
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Docker secrets by name, for the function's own use: a file at
   * /run/secrets/<name> on Docker; `funker dev` gives each a local copy.
   */
  readonly secrets: readonly string[];
  /**
   * The Docker secret holding the keys that sign calls to this function
   * (its own `secret:`, else the stack's): its replicas accept only calls
   * signed with one of them. Undefined = unsigned calls.
   */
  readonly keySecret: KeySecret | undefined;
  /** Where each secret is named in funker.yml, so that a problem found later (no local value) still points at its line. */
  readonly secretPositions: Readonly<Record<string, ConfigPosition>>;
  /** Mounted by `funker deploy` and `funker compose`; `funker dev` gives each a local folder instead. */
  readonly volumes: readonly VolumeSpec[];
  readonly scale: ScaleSpec | undefined;
  readonly endpointMode: EndpointMode;
  /** How callers speak to it; `auto` unless pinned (`protocol: legacy` for a 2017 function). */
  readonly protocol: CallerProtocol;
  /** A Dockerfile of the function's own, absolute; undefined = Funker's standard one. */
  readonly dockerfile: string | undefined;
}

/**
 * A backing service of `services:` (a database, a web front end): an
 * ordinary long-running program beside the functions, as Compose's services
 * are. `funker dev` runs its `command` on this machine; the Docker verbs run
 * its `image` as a plain service. Functions and other services reach it at
 * `<name>:<port>` on Docker, and under `funker dev` at the local address that
 * replaces `<name>:<port>` in their variables.
 */
export interface ServiceSpec {
  readonly name: string;
  /** The program `funker dev` runs (a string is run by /bin/sh -c), in the folder of funker.yml; undefined = not run locally. */
  readonly command: readonly string[] | undefined;
  /** The image the Docker verbs run; undefined = `funker dev` only. */
  readonly image: string | undefined;
  /** The port it listens on: inside its container on Docker, and the one named in `<name>:<port>`. */
  readonly port: number;
  /** The host port people open (Docker publishes it; `funker dev` listens there); undefined = reached by the others only. */
  readonly publish: number | undefined;
  readonly environment: Readonly<Record<string, string>>;
  readonly volumes: readonly VolumeSpec[];
}

/**
 * A Docker secret whose file holds shared keys, one per line (PROTOCOL.md
 * section 6.8): `secret:` of the stack or of a function.
 */
export interface KeySecret {
  readonly name: string;
  /** Where funker.yml names it, so that a problem found later (no local value) still points at its line. */
  readonly position: ConfigPosition;
}

/** A checked `funker.yml`. */
export interface FunkerConfig {
  /** The file read, absolute. */
  readonly file: string;
  /** The folder of the file: paths in it are relative to this. */
  readonly root: string;
  /** The stack name for `funker deploy`; defaults to the folder's name. */
  readonly name: string;
  /** The Docker network functions and callers share. */
  readonly network: string;
  /** The stack's `secret:`: the keys of every function without a `secret:` of its own. */
  readonly secret: KeySecret | undefined;
  readonly functions: readonly FunctionSpec[];
  /** The backing services of `services:`, in the order written. */
  readonly services: readonly ServiceSpec[];
  /** `autoscale: true`: `funker deploy` adds the autoscaler service (`funker-autoscaler`) for this stack's functions with `scale`. */
  readonly autoscale: boolean;
}

/** A place in `funker.yml`, as editors and terminals link it: the file as shown to people, 1-based line and column. */
export interface ConfigPosition {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One problem found in `funker.yml`, with the position people need to fix it. */
export interface ConfigIssue extends ConfigPosition {
  readonly message: string;
}

/**
 * `funker.yml` could not be read or is not valid. The message lists every
 * issue as `file:line:column: message`, the form editors and terminals link.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(issues.map((issue) => `${issue.file}:${issue.line}:${issue.column}: ${issue.message}`).join("\n"));
    this.issues = issues;
  }
}

/**
 * Docker service names double as DNS names on the network, so a function's
 * name is held to a DNS label: lower case letters, digits and inner hyphens.
 */
const FUNCTION_NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const DNS_LABEL_MAX = 63;

/** Why `name` cannot name a function (a Docker service and DNS name), or undefined when it can. */
export function functionNameProblem(name: string): string | undefined {
  if (FUNCTION_NAME.test(name) && name.length <= Math.min(DNS_LABEL_MAX, MAX_FUNCTION_NAME_LENGTH)) return undefined;
  return `function name "${name}" is not a valid Docker service name: use lower case letters, digits and inner hyphens, at most ${DNS_LABEL_MAX} characters`;
}
/** Docker image references: `[registry/]name[:tag][@digest]`, lower case repository path. */
const IMAGE_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const ENVIRONMENT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Docker's rule for volume names. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Far beyond a laptop's means; a typo such as 1000 is caught rather than forking a thousand processes. */
const MAX_REPLICAS = 100;
/**
 * The handler refuses a duration longer than Node's longest timer, 2^31-1 ms
 * (about 24.8 days), and every replica would fail to start: refused here, at
 * its line, instead.
 */
const LONGEST_DURATION_SHOWN = "about 24 days (Node's longest timer; the handler refuses more)";
/** Wordings of a choice setting's values clearer than the bare list. */
const CHOICE_HINTS: Partial<Record<SettingName, string>> = {
  mode: '"single-shot" (one call per process), "reuse" (calls share a process) or "fresh" (one call per process, started ahead)',
};
/** What each mode is, for the message that refuses a setting it does not use. */
const MODE_MEANINGS: Readonly<Record<FunctionMode, string>> = {
  "single-shot": "a single-shot replica serves one call",
  reuse: "a reuse-mode replica serves calls in one process",
  fresh: "a fresh replica serves each call in a process of its own",
};
const ENTRY_CANDIDATES = ["src/handler.ts", "src/handler.js", "src/index.ts", "handler.ts", "handler.js", "index.ts", "index.js"];

const TOP_LEVEL_KEYS = ["version", "name", "network", "secret", "autoscale", "functions", "services"] as const;
const FUNCTION_KEYS = [
  "entry",
  "image",
  "replicas",
  ...FUNKER_YML_SETTINGS,
  "environment",
  "secret",
  "secrets",
  "volumes",
  "scale",
  "endpointMode",
  "protocol",
  "dockerfile",
] as const;
const SCALE_KEYS = ["min", "max", "idle", "warm"] as const;
const SERVICE_KEYS = ["command", "image", "port", "publish", "environment", "volumes"] as const;
const MAX_PORT = 65_535;

/** Finds `funker.yml` in `start` or the nearest folder above it. */
export function findConfigFile(start: string): string | undefined {
  let directory = resolve(start);
  for (;;) {
    const candidate = join(directory, CONFIG_FILE_NAME);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}

/** Reads and checks a `funker.yml`; throws `ConfigError` naming every problem's line. */
export function loadConfig(file: string): FunkerConfig {
  const absolute = resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : String(error);
    throw new ConfigError([{ file: displayPath(absolute), line: 1, column: 1, message: reason }]);
  }
  return parseConfig(text, absolute);
}

/** Checks the text of a `funker.yml` that lives at `file` (paths in it are relative to its folder). */
export function parseConfig(text: string, file: string): FunkerConfig {
  const checker = new ConfigChecker(text, resolve(file));
  return checker.check();
}

/** A path relative to the working directory when that is shorter, for messages. */
function displayPath(path: string): string {
  const fromHere = relative(process.cwd(), path);
  return fromHere.length < path.length && !fromHere.startsWith("../../") ? fromHere : path;
}

class ConfigChecker {
  private readonly issues: ConfigIssue[] = [];
  private readonly lines = new LineCounter();
  private readonly root: string;
  private readonly shownFile: string;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {
    this.root = dirname(file);
    this.shownFile = displayPath(file);
  }

  check(): FunkerConfig {
    const document = parseDocument(this.text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    for (const error of document.errors) {
      this.issueAt(error.pos[0], `YAML syntax: ${error.message.split("\n")[0]}`);
    }
    if (document.errors.length > 0) throw new ConfigError(this.issues);

    const top = document.contents;
    if (!isMap(top)) {
      this.issue(top, "expected a mapping with `version: 1` and `functions:`");
      throw new ConfigError(this.issues);
    }
    this.unknownKeys(top, TOP_LEVEL_KEYS, "");

    const version = top.get("version", true) as Node | undefined;
    if (version === undefined) this.issue(top, "missing `version: 1`");
    else if (!isScalar(version) || (version.value !== 1 && version.value !== "1" && version.value !== "1.0" && version.value !== 1.0)) {
      this.issue(version, "`version` must be 1, the only version of this file format");
    }

    const name = this.optionalString(top, "name", "") ?? basename(this.root).toLowerCase().replace(/[^a-z0-9-]+/g, "-");
    const network = this.optionalString(top, "network", "") ?? "funker";
    const secret = this.keySecret(top, "");
    const autoscaleNode = top.get("autoscale", true) as Node | undefined;
    let autoscale = false;
    if (autoscaleNode !== undefined) {
      if (isScalar(autoscaleNode) && typeof autoscaleNode.value === "boolean") autoscale = autoscaleNode.value;
      else this.issue(autoscaleNode, "`autoscale` must be true (deploy the autoscaler with the functions) or false");
    }

    const functions: FunctionSpec[] = [];
    const functionsNode = top.get("functions", true);
    if (functionsNode === undefined) this.issue(top, "missing `functions:`, the functions by name");
    else if (!isMap(functionsNode)) this.issue(functionsNode, "`functions` must map each function's name to its settings");
    else {
      if (functionsNode.items.length === 0) this.issue(functionsNode, "`functions` is empty");
      for (const pair of functionsNode.items) {
        const key = pair.key as Node;
        const functionName = isScalar(key) ? String(key.value) : "";
        const problem = functionNameProblem(functionName);
        if (problem !== undefined) {
          this.issue(key, problem);
          continue;
        }
        const spec = this.functionSpec(functionName, pair.value as Node | null, key, secret);
        if (spec !== undefined) functions.push(spec);
      }
    }

    const services: ServiceSpec[] = [];
    const servicesNode = top.get("services", true);
    if (servicesNode !== undefined && !isMap(servicesNode)) this.issue(servicesNode, "`services` must map each service's name to its settings");
    else if (servicesNode !== undefined) {
      for (const pair of servicesNode.items) {
        const key = pair.key as Node;
        const serviceName = isScalar(key) ? String(key.value) : "";
        const problem = functionNameProblem(serviceName)?.replace("function name", "service name");
        if (problem !== undefined) this.issue(key, problem);
        else if (functions.some((spec) => spec.name === serviceName)) {
          this.issue(key, `service name "${serviceName}" is also a function's: each is a Docker service and a name on the network, so the names must differ`);
        } else {
          const spec = this.serviceSpec(serviceName, pair.value as Node | null, key);
          if (spec !== undefined) services.push(spec);
        }
      }
    }

    if (this.issues.length > 0) throw new ConfigError(this.issues);
    return { file: this.file, root: this.root, name, network, secret, functions, services, autoscale };
  }

  private serviceSpec(name: string, node: Node | null, keyNode: Node): ServiceSpec | undefined {
    if (!isMap(node)) {
      this.issue(node ?? keyNode, `services.${name} must be a mapping with \`port:\` and \`command:\` or \`image:\``);
      return undefined;
    }
    const path = `services.${name}.`;
    const before = this.issues.length;
    this.unknownKeys(node, SERVICE_KEYS, path);

    let command: string[] | undefined;
    const commandNode = node.get("command", true);
    if (commandNode !== undefined) {
      if (isScalar(commandNode) && typeof commandNode.value === "string" && commandNode.value.trim() !== "") command = ["/bin/sh", "-c", commandNode.value];
      else if (isSeq(commandNode) && commandNode.items.length > 0 && commandNode.items.every((item) => isScalar(item) && typeof item.value === "string" && item.value !== "")) {
        command = (commandNode.items as Scalar[]).map((item) => String(item.value));
      } else this.issue(commandNode, `${path}command must be a command line (run by /bin/sh -c) or a list of words`);
    }
    const imageNode = node.get("image", true);
    const image = this.optionalString(node, "image", path);
    if (image !== undefined && !IMAGE_NAME.test(image)) this.issue(imageNode, `${path}image "${image}" is not a valid image reference (lower case, e.g. "postgres:15")`);
    if (commandNode === undefined && imageNode === undefined) {
      this.issue(node, `services.${name}: give a command (what funker dev runs), an image (what the Docker verbs run), or both`);
    }
    const port = this.integer(node, "port", path, 1, MAX_PORT);
    if (port === undefined && node.get("port", true) === undefined) this.issue(node, `${path}port is missing: the port the service listens on`);
    const publish = this.integer(node, "publish", path, 1, MAX_PORT);
    const environment = this.environment(node, path);
    const volumes = this.volumes(node, path);
    if (this.issues.length > before || port === undefined) return undefined;
    return { name, command, image, port, publish, environment, volumes };
  }

  private functionSpec(name: string, node: Node | null, keyNode: Node, stackSecret: KeySecret | undefined): FunctionSpec | undefined {
    if (!isMap(node)) {
      this.issue(node ?? keyNode, `functions.${name} must be a mapping with at least \`entry:\``);
      return undefined;
    }
    const path = `functions.${name}.`;
    const before = this.issues.length;
    this.unknownKeys(node, FUNCTION_KEYS, path);

    const entryNode = node.get("entry", true);
    let entry: string | undefined;
    if (entryNode === undefined) this.issue(node, `${path}entry is missing: the function's folder or its handler file`);
    else if (!isScalar(entryNode) || typeof entryNode.value !== "string" || entryNode.value === "") {
      this.issue(entryNode, `${path}entry must be a path`);
    } else entry = this.resolveEntry(entryNode, path);

    const replicas = this.integer(node, "replicas", path, 0, MAX_REPLICAS) ?? 1;
    const handlerSettings: Partial<Record<SettingName, number | string | boolean>> = {};
    for (const key of FUNKER_YML_SETTINGS) {
      const value = this.setting(node, key, path, SETTINGS[key]);
      if (value !== undefined) handlerSettings[key] = value;
    }
    const mode = (handlerSettings.mode ?? SETTINGS.mode.default) as FunctionMode;
    handlerSettings.mode = mode;
    for (const key of FUNKER_YML_SETTINGS) {
      const modes = (SETTINGS[key] as Setting).modes;
      const setting = node.get(key, true);
      if (modes === undefined || modes.includes(mode) || setting === undefined) continue;
      this.issue(setting, `${path}${key} applies only to mode: ${modes.join(" or mode: ")} (${MODE_MEANINGS[mode]})`);
    }

    const environment = this.environment(node, path);

    const secrets: string[] = [];
    const secretPositions: Record<string, ConfigPosition> = {};
    const secretsNode = node.get("secrets", true);
    if (secretsNode !== undefined) {
      if (!isSeq(secretsNode)) this.issue(secretsNode, `${path}secrets must be a list of secret names`);
      else {
        for (const item of secretsNode.items as Node[]) {
          if (isScalar(item) && typeof item.value === "string" && SECRET_NAME.test(item.value)) {
            secrets.push(item.value);
            secretPositions[item.value] = this.position(item);
          } else this.issue(item, `${path}secrets: each entry must be a secret name (letters, digits, ".", "_", "-")`);
        }
      }
    }
    const keySecret = this.keySecret(node, path) ?? stackSecret;
    if (keySecret !== undefined && secrets.includes(keySecret.name)) {
      this.issues.push({
        ...(secretPositions[keySecret.name] as ConfigPosition),
        message: `${path}secrets lists "${keySecret.name}", the secret that holds the keys of signed calls (\`secret:\`); \`secrets:\` are for the function's own use, so name it in one place only`,
      });
    }

    const volumes = this.volumes(node, path);

    let scale: ScaleSpec | undefined;
    const scaleNode = node.get("scale", true);
    if (scaleNode !== undefined) {
      if (!isMap(scaleNode)) this.issue(scaleNode, `${path}scale must be a mapping with min, max, idle and warm`);
      else {
        this.unknownKeys(scaleNode, SCALE_KEYS, `${path}scale.`);
        const min = this.integer(scaleNode, "min", `${path}scale.`, 0, MAX_REPLICAS) ?? 0;
        const max = this.integer(scaleNode, "max", `${path}scale.`, 1, MAX_REPLICAS) ?? Math.max(min, replicas, 1);
        if (max < min) this.issue(scaleNode, `${path}scale.max (${max}) is below scale.min (${min})`);
        const warm = this.integer(scaleNode, "warm", `${path}scale.`, 0, MAX_REPLICAS);
        scale = { min, max, idleMs: this.duration(scaleNode, "idle", `${path}scale.`), warm };
      }
    }

    const endpointModeNode = node.get("endpointMode", true);
    let endpointMode: EndpointMode = "dnsrr";
    if (endpointModeNode !== undefined) {
      if (isScalar(endpointModeNode) && (endpointModeNode.value === "dnsrr" || endpointModeNode.value === "vip")) {
        endpointMode = endpointModeNode.value;
      } else this.issue(endpointModeNode, `${path}endpointMode must be "dnsrr" (callers see every replica) or "vip"`);
    }

    const protocolNode = node.get("protocol", true);
    let protocol: CallerProtocol = "auto";
    if (protocolNode !== undefined) {
      if (isScalar(protocolNode) && (protocolNode.value === "auto" || protocolNode.value === "framed" || protocolNode.value === "legacy")) {
        protocol = protocolNode.value;
      } else this.issue(protocolNode, `${path}protocol must be "auto" (callers find out), "framed" or "legacy" (a function that runs a 2017 Funker library)`);
    }

    const imageNode = node.get("image", true);
    const image = this.optionalString(node, "image", path) ?? `${name}:latest`;
    if (imageNode !== undefined && !IMAGE_NAME.test(image)) {
      this.issue(imageNode, `${path}image "${image}" is not a valid image reference (lower case, e.g. "funker/add:1.0")`);
    }

    const dockerfileText = this.optionalString(node, "dockerfile", path);
    let dockerfile: string | undefined;
    if (dockerfileText !== undefined) {
      dockerfile = resolve(this.root, dockerfileText);
      if (!existsSync(dockerfile)) this.issue(node.get("dockerfile", true) as Node, `${path}dockerfile: ${dockerfileText} does not exist`);
    }

    if (this.issues.length > before || entry === undefined) return undefined;
    return {
      name,
      entry,
      directory: packageDirectory(entry, this.root),
      image,
      replicas,
      mode,
      timeoutMs: handlerSettings.timeout as number | undefined,
      concurrency: handlerSettings.concurrency as number | undefined,
      maxCalls: handlerSettings.maxCalls as number | undefined,
      handlerSettings,
      environment,
      secrets,
      secretPositions,
      keySecret,
      volumes,
      scale,
      endpointMode,
      protocol,
      dockerfile,
    };
  }

  /** `secret:` of the stack or of a function: the name of the Docker secret that holds the keys. */
  private keySecret(map: YAMLMap, path: string): KeySecret | undefined {
    const node = map.get("secret", true) as Node | undefined;
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === "string" && SECRET_NAME.test(node.value)) return { name: node.value, position: this.position(node) };
    this.issue(node, `${path}secret must name the Docker secret that holds the keys of signed calls (letters, digits, ".", "_", "-")`);
    return undefined;
  }

  private environment(map: YAMLMap, path: string): Record<string, string> {
    const environment: Record<string, string> = {};
    const environmentNode = map.get("environment", true);
    if (environmentNode === undefined) return environment;
    if (!isMap(environmentNode)) {
      this.issue(environmentNode, `${path}environment must map variable names to values`);
      return environment;
    }
    for (const pair of environmentNode.items) {
      const key = pair.key as Node;
      const value = pair.value as Node | null;
      const variable = isScalar(key) ? String(key.value) : "";
      if (!ENVIRONMENT_NAME.test(variable)) {
        this.issue(key, `${path}environment: "${variable}" is not a valid variable name`);
      } else if (!isScalar(value) || value.value === null || typeof value.value === "object") {
        this.issue(value ?? key, `${path}environment.${variable} must be a string, number or boolean`);
      } else environment[variable] = String(value.value);
    }
    return environment;
  }

  private volumes(map: YAMLMap, path: string): VolumeSpec[] {
    const volumes: VolumeSpec[] = [];
    const node = map.get("volumes", true);
    if (node === undefined) return volumes;
    if (!isSeq(node)) {
      this.issue(node, `${path}volumes must be a list of "<source>:<target>[:ro]" strings`);
      return volumes;
    }
    for (const item of node.items as Node[]) {
      if (!isScalar(item) || typeof item.value !== "string") {
        this.issue(item, `${path}volumes: each entry must be a string "<source>:<target>[:ro]", such as "votes:/votes"`);
        continue;
      }
      const written = item.value;
      const problem = (message: string): void => this.issue(item, `${path}volumes: "${written}": ${message}`);
      const parts = written.split(":");
      const [source = "", target = "", access] = parts;
      if (parts.length < 2 || parts.length > 3 || source === "" || target === "") {
        problem('expected "<source>:<target>" or "<source>:<target>:ro", such as "votes:/votes"');
        continue;
      }
      if (access !== undefined && access !== "ro" && access !== "rw") {
        problem(`the mode must be "ro" (read only) or "rw" (the default), got "${access}"`);
        continue;
      }
      let type: VolumeSpec["type"];
      if (source.startsWith("/")) type = "bind";
      else if (VOLUME_NAME.test(source)) type = "volume";
      else {
        problem(
          source.startsWith(".") || source.startsWith("~") || source.includes("/")
            ? "a host path must be absolute: a relative one would depend on where Docker runs; use a named volume, or the full path"
            : "the source must be a volume name (letters, digits, \".\", \"_\", \"-\") or an absolute host path",
        );
        continue;
      }
      if (!target.startsWith("/") || target === "/") {
        problem("the target must be an absolute folder in the container, such as /data");
        continue;
      }
      if (written.includes(",")) {
        problem("paths with commas cannot be mounted (Docker's --mount separates its fields with commas)");
        continue;
      }
      const normalisedTarget = posix.normalize(target).replace(/(.)\/$/, "$1");
      if (volumes.some((volume) => volume.target === normalisedTarget)) {
        problem(`${normalisedTarget} is mounted twice`);
        continue;
      }
      const normalisedSource = type === "bind" ? posix.normalize(source).replace(/(.)\/$/, "$1") : source;
      volumes.push({ type, source: normalisedSource, target: normalisedTarget, readOnly: access === "ro" });
    }
    return volumes;
  }

  private resolveEntry(node: Scalar, path: string): string | undefined {
    const written = String(node.value);
    const absolute = resolve(this.root, written);
    if (!existsSync(absolute)) {
      this.issue(node, `${path}entry: ${written} does not exist`);
      return undefined;
    }
    if (statSync(absolute).isFile()) return absolute;
    for (const candidate of ENTRY_CANDIDATES) {
      const file = join(absolute, candidate);
      if (existsSync(file)) return file;
    }
    this.issue(node, `${path}entry: the folder ${written} has none of ${ENTRY_CANDIDATES.join(", ")}; name the file`);
    return undefined;
  }

  private unknownKeys(map: YAMLMap, allowed: readonly string[], path: string): void {
    for (const pair of map.items) {
      const key = pair.key as Node;
      const name = isScalar(key) ? String(key.value) : "";
      if (!allowed.includes(name)) this.issue(key, `unknown setting ${path}${name}; expected one of: ${allowed.join(", ")}`);
    }
  }

  private optionalString(map: YAMLMap, key: string, path: string): string | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === "string" && node.value !== "") return node.value;
    this.issue(node, `${path}${key} must be a non-empty string`);
    return undefined;
  }

  private integer(map: YAMLMap, key: string, path: string, min: number, max: number): number | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    if (isScalar(node) && typeof node.value === "number" && Number.isInteger(node.value) && node.value >= min && node.value <= max) {
      return node.value;
    }
    const shown = isScalar(node) ? JSON.stringify(node.value) : "a collection";
    const range = max === Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${max}`;
    this.issue(node, `${path}${key} must be a whole number ${range}, got ${shown}`);
    return undefined;
  }

  /** A duration in the handler's grammar (`parseDuration` of its contract), in milliseconds. */
  private duration(map: YAMLMap, key: string, path: string): number | undefined {
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    const ms = isScalar(node) ? parseDuration(node.value) : undefined;
    if (ms !== undefined) return ms;
    const shown = isScalar(node) ? JSON.stringify(node.value) : "a collection";
    if (isScalar(node) && isDurationTooLong(node.value)) this.issue(node, `${path}${key} must be at most ${LONGEST_DURATION_SHOWN}, got ${shown}`);
    else this.issue(node, `${path}${key} must be a duration such as "30s", "500ms" or "2m", got ${shown}`);
    return undefined;
  }

  /** A handler setting, checked by its kind and range in the contract's table. */
  private setting(map: YAMLMap, key: SettingName, path: string, setting: Setting): number | string | boolean | undefined {
    if (setting.kind === "integer") return this.integer(map, key, path, setting.min, setting.max);
    if (setting.kind === "duration") return this.duration(map, key, path);
    const node = map.get(key, true);
    if (node === undefined) return undefined;
    const value: unknown = isScalar(node) ? node.value : undefined;
    const valid =
      setting.kind === "boolean"
        ? typeof value === "boolean"
        : setting.kind === "choice"
          ? typeof value === "string" && setting.choices.includes(value)
          : typeof value === "string" && value !== "" && value.length <= (setting.maxLength ?? Number.POSITIVE_INFINITY);
    if (valid) return value as string | boolean;
    this.issue(node, `${path}${key} must be ${CHOICE_HINTS[key] ?? expectedValue(setting)}`);
    return undefined;
  }

  private issue(node: Node | null | undefined, message: string): void {
    this.issues.push({ ...this.position(node), message });
  }

  private issueAt(offset: number, message: string): void {
    this.issues.push({ ...this.positionAt(offset), message });
  }

  private position(node: Node | null | undefined): ConfigPosition {
    return this.positionAt(node?.range?.[0] ?? 0);
  }

  private positionAt(offset: number): ConfigPosition {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.shownFile, line, column: col };
  }
}

/** The nearest folder at or above `entry` with a package.json, not above `root`; `root` when none. */
function packageDirectory(entry: string, root: string): string {
  let directory = dirname(entry);
  while (directory.startsWith(root)) {
    if (existsSync(join(directory, "package.json"))) return directory;
    const parent = dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  return dirname(entry);
}
