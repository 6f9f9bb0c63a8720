import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_FUNCTION_NAME_LENGTH, MAX_PAYLOAD_BYTES_LIMIT } from "@funker/protocol";
import type { LogSink } from "./log.js";
import { writeToStderr } from "./log.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

/**
 * How the replica serves calls:
 * - `"single-shot"` (the 2017 behaviour): one call, then the process exits and
 *   the orchestrator starts a fresh replica;
 * - `"reuse"`: a long-lived process serving call after call.
 */
export type HandlerMode = "single-shot" | "reuse";

/** A duration in milliseconds, or a string such as `"30s"`, `"500ms"`, `"2m"`. */
export type Duration = number | string;

/**
 * Options of `handler()`. Each may also come from an environment variable
 * (named beside it); a value given in code wins over the environment, so a
 * function can pin what must not be changed by its deployment.
 */
export interface HandlerOptions {
  /** `FUNKER_PORT`, default 9999. `0` picks a free port (see `server.ready`). */
  port?: number;
  /** `FUNKER_HOST`, default `0.0.0.0`: every interface, as in 2017. */
  host?: string;
  /** `FUNKER_MODE`, default `"single-shot"`. */
  mode?: HandlerMode;
  /** `FUNKER_MAX_CALLS`: in reuse mode, exit after this many calls. Default: no limit. */
  maxCalls?: number;
  /** `FUNKER_CONCURRENCY`, default 1: calls run at once in reuse mode. */
  concurrency?: number;
  /** `FUNKER_TIMEOUT`, default 60 s: the longest a call may run, counted from accept. */
  timeout?: Duration;
  /** `FUNKER_READ_TIMEOUT`, default 10 s: the time a caller has to send its whole call. */
  readTimeout?: Duration;
  /** `FUNKER_IDLE_TIMEOUT`, default 60 s: how long a kept (reuse mode) connection may sit idle. */
  idleTimeout?: Duration;
  /** `FUNKER_GRACE`, default = `timeout`: how long SIGTERM waits for calls in flight. */
  gracePeriod?: Duration;
  /** `FUNKER_MAX_PAYLOAD`, default 8 MiB: the largest arguments accepted, in bytes. */
  maxPayloadBytes?: number;
  /** `FUNKER_EXPOSE_STACKS`, default true unless `NODE_ENV=production`: send stacks to callers. */
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
}

/** Options after defaults and the environment were applied; every value checked. */
export interface ResolvedOptions {
  readonly port: number;
  readonly host: string;
  readonly mode: HandlerMode;
  readonly maxCalls: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly readTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly gracePeriodMs: number;
  readonly maxPayloadBytes: number;
  readonly exposeStacks: boolean;
  /** Undefined when call logging is off. */
  readonly log: LogSink | undefined;
  readonly exit: boolean;
  readonly name: string | undefined;
  readonly schema: StandardSchemaV1 | undefined;
}

export const DEFAULT_PORT = 9999;
export const DEFAULT_HOST = "0.0.0.0";
/** Long enough for most functions, short enough that a hung call frees the replica within a minute. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** Arguments of 8 MiB arrive in well under a second on any network; 10 s tolerates a congested one. */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;
/** Below the idle timeouts that overlay networks and load balancers apply silently. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Node's timers hold at most 2^31-1 ms (about 24.8 days); longer values would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** Raised for an invalid option at start-up; its message names the option and its variable. */
export class HandlerOptionsError extends Error {
  override readonly name = "HandlerOptionsError";
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Applies the environment and the defaults, and checks every value. */
export function resolveOptions(options: HandlerOptions = {}, environment: Environment = process.env): ResolvedOptions {
  const read = (key: keyof HandlerOptions, variable: string): { value: unknown; source: string } => {
    if (options[key] !== undefined) return { value: options[key], source: `option "${key}"` };
    const text = environment[variable];
    if (text !== undefined && text.trim() !== "") return { value: text.trim(), source: `${variable}` };
    return { value: undefined, source: `option "${key}"` };
  };

  const port = integer(read("port", "FUNKER_PORT"), 0, 65_535) ?? DEFAULT_PORT;
  const hostSetting = read("host", "FUNKER_HOST");
  if (hostSetting.value !== undefined && (typeof hostSetting.value !== "string" || hostSetting.value === "")) {
    throw invalid(hostSetting, "a host name or address");
  }
  const host = (hostSetting.value as string | undefined) ?? DEFAULT_HOST;

  const modeSetting = read("mode", "FUNKER_MODE");
  if (modeSetting.value !== undefined && modeSetting.value !== "single-shot" && modeSetting.value !== "reuse") {
    throw invalid(modeSetting, '"single-shot" or "reuse"');
  }
  const mode = (modeSetting.value as HandlerMode | undefined) ?? "single-shot";

  const maxCalls = integer(read("maxCalls", "FUNKER_MAX_CALLS"), 1, Number.MAX_SAFE_INTEGER) ?? Number.POSITIVE_INFINITY;
  const concurrency = integer(read("concurrency", "FUNKER_CONCURRENCY"), 1, 10_000) ?? 1;
  const timeoutMs = duration(read("timeout", "FUNKER_TIMEOUT")) ?? DEFAULT_TIMEOUT_MS;
  const readTimeoutMs = duration(read("readTimeout", "FUNKER_READ_TIMEOUT")) ?? DEFAULT_READ_TIMEOUT_MS;
  const idleTimeoutMs = duration(read("idleTimeout", "FUNKER_IDLE_TIMEOUT")) ?? DEFAULT_IDLE_TIMEOUT_MS;
  const gracePeriodMs = duration(read("gracePeriod", "FUNKER_GRACE")) ?? timeoutMs;
  const maxPayloadBytes = integer(read("maxPayloadBytes", "FUNKER_MAX_PAYLOAD"), 1, MAX_PAYLOAD_BYTES_LIMIT) ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const exposeStacks = boolean(read("exposeStacks", "FUNKER_EXPOSE_STACKS")) ?? environment["NODE_ENV"] !== "production";
  const log = typeof options.log === "function" ? options.log : (boolean(read("log", "FUNKER_LOG")) ?? true) ? writeToStderr : undefined;
  const exit = boolean(read("exit", "FUNKER_EXIT")) ?? true;

  const nameSetting = read("name", "FUNKER_FUNCTION");
  if (
    nameSetting.value !== undefined &&
    (typeof nameSetting.value !== "string" || nameSetting.value.length === 0 || nameSetting.value.length > MAX_FUNCTION_NAME_LENGTH)
  ) {
    throw invalid(nameSetting, `a function name of 1 to ${MAX_FUNCTION_NAME_LENGTH} characters`);
  }
  const name = nameSetting.value as string | undefined;

  const schema = options.schema;
  if (schema !== undefined && typeof (schema as Partial<StandardSchemaV1>)["~standard"]?.validate !== "function") {
    throw new HandlerOptionsError('option "schema" must be a Standard Schema v1 validator (zod, valibot, arktype, …)');
  }

  return {
    port,
    host,
    mode,
    maxCalls,
    concurrency,
    timeoutMs,
    readTimeoutMs,
    idleTimeoutMs,
    gracePeriodMs,
    maxPayloadBytes,
    exposeStacks,
    log,
    exit,
    name,
    schema,
  };
}

interface Setting {
  value: unknown;
  source: string;
}

function invalid(setting: Setting, expected: string): HandlerOptionsError {
  return new HandlerOptionsError(`${setting.source} must be ${expected}; got ${JSON.stringify(setting.value)}`);
}

function integer(setting: Setting, minimum: number, maximum: number): number | undefined {
  if (setting.value === undefined) return undefined;
  const value = typeof setting.value === "string" && /^\d+$/.test(setting.value) ? Number(setting.value) : setting.value;
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum || value > maximum) {
    throw invalid(setting, `a whole number from ${minimum} to ${maximum}`);
  }
  return value;
}

function boolean(setting: Setting): boolean | undefined {
  const value = setting.value;
  if (value === undefined || typeof value === "boolean") return value;
  if (typeof value === "string") {
    const text = value.toLowerCase();
    if (["1", "true", "on", "yes"].includes(text)) return true;
    if (["0", "false", "off", "no"].includes(text)) return false;
  }
  throw invalid(setting, "true or false (also 1/0, on/off, yes/no)");
}

const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Reads milliseconds, or a number followed by `ms`, `s`, `m` or `h`. */
export function parseDuration(value: unknown): number | undefined {
  let milliseconds: number | undefined;
  if (typeof value === "number") milliseconds = value;
  else if (typeof value === "string") {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
    if (match !== null) milliseconds = Number(match[1]) * (durationUnits[match[2] ?? "ms"] ?? 1);
  }
  if (milliseconds === undefined || !Number.isFinite(milliseconds) || milliseconds <= 0 || milliseconds > MAX_TIMER_MS) {
    return undefined;
  }
  return Math.round(milliseconds);
}

function duration(setting: Setting): number | undefined {
  if (setting.value === undefined) return undefined;
  const milliseconds = parseDuration(setting.value);
  if (milliseconds === undefined) {
    throw invalid(setting, 'a positive duration: milliseconds, or a number with ms, s, m or h ("30s", "500ms", "2m")');
  }
  return milliseconds;
}
