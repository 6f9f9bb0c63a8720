import { expectedValue, isInRange, parseDuration, SETTINGS } from "./contract.js";
import type { BooleanSetting, ChoiceSetting, DurationSetting, HandlerMode, IntegerSetting, SettingName, TextSetting } from "./contract.js";
import type { LogSink } from "./log.js";
import { writeToStderr } from "./log.js";
import type { StandardSchemaV1 } from "./standard-schema.js";
import { KeyRing, keySourceFor, SharedKeyError } from "@funker/node-utils";
import { defaultMaxConnections, openFileLimit } from "./descriptors.js";

export type { HandlerMode } from "./contract.js";
export { parseDuration } from "./contract.js";

/** A duration in milliseconds, or a string such as `"30s"`, `"500ms"`, `"2m"`, `"1m30s"` (see `parseDuration`). */
export type Duration = number | string;

/**
 * Options of `handler()`. Each may also come from an environment variable
 * (named beside it, and in the contract's `SETTINGS`, which gives the ranges
 * and defaults); a value given in code wins over the environment, so a
 * function can pin what must not be changed by its deployment.
 */
export interface HandlerOptions {
  /** `FUNKER_PORT`, default 9999. `0` picks a free port (see `server.ready`). */
  port?: number;
  /** `FUNKER_HOST`, default `0.0.0.0`: every interface, as in 2017. */
  host?: string;
  /** `FUNKER_STATUS_PORT`, default 0 (off): serve `/healthz`, `/status` and `/metrics` over HTTP on this port, beside the call port. */
  statusPort?: number;
  /** `FUNKER_MODE`, default `"single-shot"`. */
  mode?: HandlerMode;
  /** `FUNKER_MAX_CALLS`: in reuse mode, exit after this many calls. Default: no limit. */
  maxCalls?: number;
  /** `FUNKER_CONCURRENCY`: calls run at once in reuse mode (default 1); in fresh mode, the processes kept (default 2). */
  concurrency?: number;
  /** `FUNKER_TIMEOUT`, default 60 s: the longest a call may run, counted from accept. */
  timeout?: Duration;
  /**
   * `FUNKER_HARD_TIMEOUT`, default off, single-shot and reuse modes: hold
   * `timeout` even when the function never yields (`while (true) {}`). 0.5 s
   * past a call's deadline its caller is answered `deadline_exceeded` from
   * outside the event loop and the process is killed (SIGKILL); in reuse mode
   * the other calls in flight end with it (`handler_crashed`). The process
   * is killed also when the server does not own it (`exit: false`). It costs a
   * `/bin/sh` start per call (single-shot) or a worker thread per process
   * (reuse). Fresh mode's supervisor always does this.
   */
  hardTimeout?: boolean;
  /** `FUNKER_READ_TIMEOUT`, default 10 s: the time a caller has to send its whole call. */
  readTimeout?: Duration;
  /** `FUNKER_IDLE_TIMEOUT`, default 60 s: how long a kept (reuse mode) connection may sit idle. */
  idleTimeout?: Duration;
  /** `FUNKER_GRACE`, default = `timeout`: how long SIGTERM waits for calls in flight. */
  gracePeriod?: Duration;
  /**
   * `FUNKER_DRAIN_TIMEOUT`, default = `timeout`: how long a function's work may
   * go on after its call ended. Single-shot and fresh: after the reply, the
   * process exits once nothing of the function's is left running, or is ended
   * at this bound. Every mode: a body still running after a deadline, cancel or
   * disconnect keeps its slot this long; past it the replica recycles itself.
   */
  drainTimeout?: Duration;
  /** `FUNKER_MAX_PAYLOAD`, default 8 MiB: the largest arguments accepted, in bytes. */
  maxPayloadBytes?: number;
  /** `FUNKER_EXPOSE_STACKS`, default false (`funker dev` sets it): send the function's stacks to callers. */
  exposeStacks?: boolean;
  /**
   * `FUNKER_LOG`, default on (`off` disables): one JSON line per call on
   * stderr. A function receives each line as an object instead.
   */
  log?: boolean | LogSink;
  /** `FUNKER_EXIT`, default true: exit the process when done; false for tests and embedding. */
  exit?: boolean;
  /** `FUNKER_FUNCTION`: this function's name; framed calls for another name get `not_found`. */
  name?: string;
  /** Validates the arguments before the function runs (any Standard Schema v1 validator). */
  schema?: StandardSchemaV1;
  /**
   * Shared keys, one per line: when set, only calls signed with one of them
   * run (PROTOCOL.md section 6.8). Prefer `secretFile`. When neither is given:
   * `FUNKER_SECRET_FILES`' entry for this function's name, else
   * `FUNKER_SECRET_FILE`, else `FUNKER_SECRET`.
   */
  secret?: string;
  /** A file of shared keys, one per line (a Docker secret under /run/secrets); re-read when it changes. */
  secretFile?: string;
  /** `FUNKER_SECRET_SKEW`, default 30 s, at most 10 min: how far from this replica's clock a call may have been signed. */
  secretSkew?: Duration;
  /** `FUNKER_REPLAY_WINDOW`, default 100,000: how many signed calls a replica remembers to refuse replays. */
  replayWindow?: number;
  /**
   * `FUNKER_MAX_CONNECTIONS`, reuse and fresh modes: connections open at
   * once. A caller beyond it takes the place of a connection that holds no
   * call (one silent since it was accepted, then a kept one between calls),
   * or is refused with `unavailable`. Default: 10,000, and at most three
   * quarters of the process's open-file limit (read on Linux).
   */
  maxConnections?: number;
  /** `FUNKER_HEAP_LIMIT_MB`, fresh mode: each process's JavaScript heap limit in MiB (`--max-old-space-size`). Default: V8's. */
  heapLimitMb?: number;
  /**
   * `FUNKER_CHILD_ENV`, fresh mode: the variables a process gets, as names
   * separated by commas; `NODE_ENV`, `NODE_OPTIONS` and Funker's own
   * `FUNKER_*` always pass. Default: the whole environment.
   */
  childEnv?: string;
  /** `FUNKER_QUEUE_TIMEOUT`, fresh mode, default 1 s: how long a caller waits for a process when none waits, before `unavailable`. */
  queueTimeout?: Duration;
}

/** Options after defaults and the environment were applied; every value checked. */
export interface ResolvedOptions {
  readonly port: number;
  readonly host: string;
  /** 0 when off. */
  readonly statusPort: number;
  readonly mode: HandlerMode;
  readonly maxCalls: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly readTimeoutMs: number;
  /** Single-shot and reuse modes; fresh mode holds its limit from the supervisor whatever this says. */
  readonly hardTimeout: boolean;
  readonly idleTimeoutMs: number;
  readonly gracePeriodMs: number;
  readonly drainTimeoutMs: number;
  readonly maxPayloadBytes: number;
  readonly exposeStacks: boolean;
  /** Undefined when call logging is off. */
  readonly log: LogSink | undefined;
  readonly exit: boolean;
  readonly name: string | undefined;
  readonly schema: StandardSchemaV1 | undefined;
  /** Undefined when calls need no signature. */
  readonly keys: KeyRing | undefined;
  readonly secretSkewMs: number;
  readonly replayWindow: number;
  /** Fresh mode: `Infinity` when V8's own limit applies. */
  readonly heapLimitMb: number;
  /** Fresh mode: undefined when a process gets the whole environment. */
  readonly childEnv: string | undefined;
  readonly queueTimeoutMs: number;
  readonly maxConnections: number;
}

/** Raised for an invalid option at start-up; its message names the option and its variable. */
export class HandlerOptionsError extends Error {
  override readonly name = "HandlerOptionsError";
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Where a setting's value came from, for messages: the option in code, or its variable. */
interface Setting {
  value: unknown;
  source: string;
}

/** Applies the environment and the defaults of the contract's `SETTINGS`, and checks every value. */
export function resolveOptions(options: HandlerOptions = {}, environment: Environment = process.env): ResolvedOptions {
  const read = (key: SettingName): Setting => {
    if (options[key] !== undefined) return { value: options[key], source: `option "${key}"` };
    const variable = SETTINGS[key].variable;
    const text = environment[variable];
    if (text !== undefined && text.trim() !== "") return { value: text.trim(), source: variable };
    return { value: undefined, source: `option "${key}"` };
  };

  const timeoutMs = duration(read("timeout"), SETTINGS.timeout) ?? SETTINGS.timeout.default;
  const log = typeof options.log === "function" ? options.log : (boolean(read("log"), SETTINGS.log) ?? SETTINGS.log.default) ? writeToStderr : undefined;

  const schema = options.schema;
  if (schema !== undefined && typeof (schema as Partial<StandardSchemaV1>)["~standard"]?.validate !== "function") {
    throw new HandlerOptionsError('option "schema" must be a Standard Schema v1 validator (zod, valibot, arktype, …)');
  }

  const name = nonEmptyText(read("name"), SETTINGS.name) ?? SETTINGS.name.default;
  const secretSkewMs = duration(read("secretSkew"), SETTINGS.secretSkew) ?? SETTINGS.secretSkew.default;
  if (secretSkewMs > MAX_SECRET_SKEW_MS) throw invalid(read("secretSkew"), "at most 10 minutes: a replay is possible within it");

  const mode = (choice(read("mode"), SETTINGS.mode) as HandlerMode | undefined) ?? SETTINGS.mode.default;
  return {
    port: integer(read("port"), SETTINGS.port) ?? SETTINGS.port.default,
    host: nonEmptyText(read("host"), SETTINGS.host) ?? SETTINGS.host.default,
    statusPort: integer(read("statusPort"), SETTINGS.statusPort) ?? SETTINGS.statusPort.default,
    mode,
    maxCalls: integer(read("maxCalls"), SETTINGS.maxCalls) ?? SETTINGS.maxCalls.default,
    concurrency: integer(read("concurrency"), SETTINGS.concurrency) ?? (mode === "fresh" ? SETTINGS.concurrency.freshDefault : SETTINGS.concurrency.default),
    timeoutMs,
    readTimeoutMs: duration(read("readTimeout"), SETTINGS.readTimeout) ?? SETTINGS.readTimeout.default,
    hardTimeout: boolean(read("hardTimeout"), SETTINGS.hardTimeout) ?? SETTINGS.hardTimeout.default,
    idleTimeoutMs: duration(read("idleTimeout"), SETTINGS.idleTimeout) ?? SETTINGS.idleTimeout.default,
    gracePeriodMs: duration(read("gracePeriod"), SETTINGS.gracePeriod) ?? timeoutMs,
    drainTimeoutMs: duration(read("drainTimeout"), SETTINGS.drainTimeout) ?? timeoutMs,
    maxPayloadBytes: integer(read("maxPayloadBytes"), SETTINGS.maxPayloadBytes) ?? SETTINGS.maxPayloadBytes.default,
    exposeStacks: boolean(read("exposeStacks"), SETTINGS.exposeStacks) ?? SETTINGS.exposeStacks.default,
    log,
    exit: boolean(read("exit"), SETTINGS.exit) ?? SETTINGS.exit.default,
    name,
    schema,
    keys: sharedKeys(options, name, environment),
    secretSkewMs,
    replayWindow: integer(read("replayWindow"), SETTINGS.replayWindow) ?? SETTINGS.replayWindow.default,
    heapLimitMb: integer(read("heapLimitMb"), SETTINGS.heapLimitMb) ?? SETTINGS.heapLimitMb.default,
    childEnv: nonEmptyText(read("childEnv"), SETTINGS.childEnv) ?? SETTINGS.childEnv.default,
    queueTimeoutMs: duration(read("queueTimeout"), SETTINGS.queueTimeout) ?? SETTINGS.queueTimeout.default,
    // A single-shot replica holds one connection: it never reads the limit of open files.
    maxConnections: integer(read("maxConnections"), SETTINGS.maxConnections) ?? (mode === "single-shot" ? SETTINGS.maxConnections.default : defaultMaxConnections(openFileLimit())),
  };
}

const MAX_SECRET_SKEW_MS = 10 * 60_000;

/** The keys this replica accepts, read now so that a missing or empty key file stops the start-up with its reason. */
function sharedKeys(options: HandlerOptions, name: string | undefined, environment: Environment): KeyRing | undefined {
  for (const key of ["secret", "secretFile"] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) throw new HandlerOptionsError(`option "${key}" must be a non-empty string`);
  }
  try {
    const source = keySourceFor(name, { secret: options.secret, secretFile: options.secretFile }, environment);
    return source === undefined ? undefined : new KeyRing(source);
  } catch (error) {
    if (error instanceof SharedKeyError) throw new HandlerOptionsError(error.message, { cause: error });
    throw error;
  }
}

function invalid(setting: Setting, expected: string): HandlerOptionsError {
  return new HandlerOptionsError(`${setting.source} must be ${expected}; got ${JSON.stringify(setting.value)}`);
}

function integer(setting: Setting, row: IntegerSetting): number | undefined {
  if (setting.value === undefined) return undefined;
  const value = typeof setting.value === "string" && /^\d+$/.test(setting.value) ? Number(setting.value) : setting.value;
  if (!isInRange(row, value)) throw invalid(setting, expectedValue(row));
  return value;
}

const TRUE_WORDS: readonly string[] = ["1", "true", "on", "yes"];
const FALSE_WORDS: readonly string[] = ["0", "false", "off", "no"];

function boolean(setting: Setting, row: BooleanSetting): boolean | undefined {
  const value = setting.value;
  if (value === undefined || typeof value === "boolean") return value;
  if (typeof value === "string") {
    const word = value.toLowerCase();
    if (TRUE_WORDS.includes(word)) return true;
    if (FALSE_WORDS.includes(word)) return false;
  }
  throw invalid(setting, expectedValue(row));
}

function duration(setting: Setting, row: DurationSetting): number | undefined {
  if (setting.value === undefined) return undefined;
  const milliseconds = parseDuration(setting.value);
  if (milliseconds === undefined) throw invalid(setting, expectedValue(row));
  return milliseconds;
}

function choice(setting: Setting, row: ChoiceSetting): string | undefined {
  if (setting.value === undefined) return undefined;
  if (typeof setting.value !== "string" || !row.choices.includes(setting.value)) throw invalid(setting, expectedValue(row));
  return setting.value;
}

function nonEmptyText(setting: Setting, row: TextSetting): string | undefined {
  const value = setting.value;
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || (row.maxLength !== undefined && value.length > row.maxLength)) {
    throw invalid(setting, expectedValue(row));
  }
  return value;
}
