/**
 * What a replica promises the tools that start and watch it (`funker dev`,
 * the Docker verbs, supervisors): the settings it reads and their ranges, its
 * exit codes, the log line it writes per call, and the one duration grammar.
 * Side-effect free and small: `funker` loads it at start-up, and the handler
 * itself is started once per call in single-shot mode. It imports only the
 * protocol's limits and the timer ceiling (inlined into the bundle).
 */
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_FUNCTION_NAME_LENGTH, MAX_PAYLOAD_BYTES_LIMIT } from "@funker/protocol";
import type { WireMode } from "@funker/protocol";
import { LONGEST_TIMER_MS } from "@funker/node-utils";

/**
 * How the replica serves calls:
 * - `"single-shot"` (the 2017 behaviour): one call, then the process exits and
 *   the orchestrator starts a fresh replica;
 * - `"reuse"`: a long-lived process serving call after call;
 * - `"fresh"`: a long-lived supervisor on the port keeps processes started
 *   and waiting; each call goes to one of them, which serves it and exits,
 *   and the supervisor starts its replacement.
 */
export type HandlerMode = (typeof SETTINGS)["mode"]["choices"][number];

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer one fires at once. The contract's ceiling for every duration. */
export { LONGEST_TIMER_MS };

interface SettingColumns {
  /** The environment variable a deployment sets it with. */
  readonly variable: `FUNKER_${string}`;
  /** funker.yml may set it per function; `funker dev` and the Docker verbs pass it on as the variable. */
  readonly inFunkerYml?: true;
  /** The modes it means something in (all when absent); funker.yml refuses it for a function of another mode. */
  readonly modes?: readonly string[];
}

/** A whole number from `min` to `max`. */
export interface IntegerSetting extends SettingColumns {
  readonly kind: "integer";
  readonly min: number;
  readonly max: number;
  /** `Infinity` for "no limit". */
  readonly default: number;
  /** The default in fresh mode, where it differs. */
  readonly freshDefault?: number;
}

/** A duration (see `parseDuration`), held in milliseconds. */
export interface DurationSetting extends SettingColumns {
  readonly kind: "duration";
  /** Milliseconds; undefined when another setting gives the default (`gracePeriod` takes `timeout`'s). */
  readonly default: number | undefined;
}

/** True or false; a variable reads 1/0, true/false, on/off, yes/no. */
export interface BooleanSetting extends SettingColumns {
  readonly kind: "boolean";
  readonly default: boolean;
}

/** One of a few words. */
export interface ChoiceSetting extends SettingColumns {
  readonly kind: "choice";
  readonly choices: readonly string[];
  readonly default: string;
}

/** Non-empty text, of at most `maxLength` characters when that is given. */
export interface TextSetting extends SettingColumns {
  readonly kind: "text";
  /** What the text names, for messages: "a host name or address". */
  readonly names: string;
  readonly maxLength?: number;
  readonly default: string | undefined;
}

export type Setting = IntegerSetting | DurationSetting | BooleanSetting | ChoiceSetting | TextSetting;

/**
 * Every setting of a replica: the option of `handler()` (the key), the
 * variable, the kind with its range, and the default. The handler resolves
 * its options from this table, and `funker` checks funker.yml and sets
 * replicas' variables from it, so a new setting is one row here.
 *
 * Why the defaults (kept out of the literal, which ships in every function's bundle):
 * - `host` 0.0.0.0: every interface, as in 2017.
 * - `statusPort` 0, off: the HTTP status port (`/healthz`, `/status`, `/metrics`) loads node:http, about 1 MiB and a few
 *   milliseconds more for a replica that may live for one call; `funker deploy` turns it on (9998) where an autoscaler reads it.
 * - `name` unset: any name is served; set, framed calls for another name get `not_found`.
 * - `timeout` 60 s: long enough for most functions, short enough that a hung call frees the replica within a minute.
 * - `concurrency` at most 10,000: a thousand-fold above a laptop's cores, and far below the open files a process may hold.
 *   In fresh mode it is the number of processes kept (each serves one call at a time), 2 by default: on two cores one
 *   process waits while the other's replacement starts, and each holds the memory of a Node process (about 40 MiB).
 * - `maxConnections` 10,000, and at most three quarters of the process's open-file limit when that is known (Linux):
 *   every connection holds a descriptor, and a process out of descriptors drops new connections unseen, so the replica
 *   refuses (or makes room) before it gets there, and leaves a quarter to the function's own files and sockets. 10,000
 *   matches the highest `concurrency`; idle, each costs a few KiB.
 * - `heapLimitMb` unset: V8's own limit; set, each fresh process runs with `--max-old-space-size` of that many MiB.
 * - `childEnv` unset: a fresh process gets the replica's whole environment, as a single-shot replica would.
 * - `queueTimeout` 1 s: when no fresh process waits, a caller waits that long for one (a replacement starts in about
 *   0.1 s) before it is refused with `unavailable`, which sends it to another replica.
 * - `hardTimeout` off: a process whose event loop a function holds (`while (true) {}`) never runs its own alarm. On,
 *   something outside the event loop answers `deadline_exceeded` 0.5 s after the deadline and kills the process: a
 *   `/bin/sh` sleeper per call in single-shot mode, a worker thread per process in reuse mode. Both cost what the
 *   single-shot cycle and a reuse replica's idle memory cannot spare by default (docs/deploy.md). Fresh mode's
 *   supervisor always holds the limit from outside.
 * - `readTimeout` 10 s: arguments of 8 MiB arrive in well under a second on any network; 10 s tolerates a congested one.
 * - `idleTimeout` 60 s: below the idle timeouts that overlay networks and load balancers apply silently.
 * - `gracePeriod` unset: the timeout, so that SIGTERM never cuts short a call that is within its time.
 * - `drainTimeout` unset: the timeout. A function gets as long to wind down after its call as it had to run: work it
 *   left running after its reply (single-shot and fresh), or a body that ignores its abort signal after a deadline, a
 *   cancel or a disconnect (every mode), which keeps its slot meanwhile. Past it the process ends itself.
 * - `exposeStacks` off: a stack names the function's files by their absolute paths, which no caller needs to see;
 *   `funker dev` turns it on for its replicas, where the caller is the function's own author.
 * - `secretSkew` 30 s, at most 10 min: how far from the replica's clock a signed call may have been signed. A captured
 *   call can be replayed to another replica within it, so it stays short; NTP keeps hosts within milliseconds.
 * - `replayWindow` 100,000 signed calls (about 10 MB): the ids a replica remembers to refuse a replay. When more calls
 *   than that arrive within the skew, the oldest are forgotten and calls signed before them are refused as stale.
 */
export const SETTINGS = {
  port: { variable: "FUNKER_PORT", kind: "integer", min: 0, max: 65_535, default: 9999 },
  statusPort: { variable: "FUNKER_STATUS_PORT", kind: "integer", min: 0, max: 65_535, default: 0 },
  host: { variable: "FUNKER_HOST", kind: "text", names: "a host name or address", default: "0.0.0.0" },
  name: { variable: "FUNKER_FUNCTION", kind: "text", names: "a function name", maxLength: MAX_FUNCTION_NAME_LENGTH, default: undefined },
  mode: { variable: "FUNKER_MODE", kind: "choice", choices: ["single-shot", "reuse", "fresh"], default: "single-shot", inFunkerYml: true },
  timeout: { variable: "FUNKER_TIMEOUT", kind: "duration", default: 60_000, inFunkerYml: true },
  concurrency: {
    variable: "FUNKER_CONCURRENCY",
    kind: "integer",
    min: 1,
    max: 10_000,
    default: 1,
    freshDefault: 2,
    inFunkerYml: true,
    modes: ["reuse", "fresh"],
  },
  maxCalls: {
    variable: "FUNKER_MAX_CALLS",
    kind: "integer",
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    default: Number.POSITIVE_INFINITY,
    inFunkerYml: true,
    modes: ["reuse"],
  },
  maxConnections: {
    variable: "FUNKER_MAX_CONNECTIONS",
    kind: "integer",
    min: 1,
    max: 1_000_000,
    default: 10_000,
    inFunkerYml: true,
    modes: ["reuse", "fresh"],
  },
  heapLimitMb: { variable: "FUNKER_HEAP_LIMIT_MB", kind: "integer", min: 16, max: 1_048_576, default: Number.POSITIVE_INFINITY, inFunkerYml: true, modes: ["fresh"] },
  childEnv: {
    variable: "FUNKER_CHILD_ENV",
    kind: "text",
    names: "a comma-separated list of variable names",
    default: undefined,
    inFunkerYml: true,
    modes: ["fresh"],
  },
  queueTimeout: { variable: "FUNKER_QUEUE_TIMEOUT", kind: "duration", default: 1_000, inFunkerYml: true, modes: ["fresh"] },
  hardTimeout: { variable: "FUNKER_HARD_TIMEOUT", kind: "boolean", default: false, modes: ["single-shot", "reuse"] },
  readTimeout: { variable: "FUNKER_READ_TIMEOUT", kind: "duration", default: 10_000 },
  idleTimeout: { variable: "FUNKER_IDLE_TIMEOUT", kind: "duration", default: 60_000 },
  gracePeriod: { variable: "FUNKER_GRACE", kind: "duration", default: undefined },
  drainTimeout: { variable: "FUNKER_DRAIN_TIMEOUT", kind: "duration", default: undefined, inFunkerYml: true },
  maxPayloadBytes: { variable: "FUNKER_MAX_PAYLOAD", kind: "integer", min: 1, max: MAX_PAYLOAD_BYTES_LIMIT, default: DEFAULT_MAX_PAYLOAD_BYTES },
  exposeStacks: { variable: "FUNKER_EXPOSE_STACKS", kind: "boolean", default: false },
  log: { variable: "FUNKER_LOG", kind: "boolean", default: true },
  exit: { variable: "FUNKER_EXIT", kind: "boolean", default: true },
  secretSkew: { variable: "FUNKER_SECRET_SKEW", kind: "duration", default: 30_000 },
  replayWindow: { variable: "FUNKER_REPLAY_WINDOW", kind: "integer", min: 1_000, max: 10_000_000, default: 100_000 },
} as const satisfies Readonly<Record<string, Setting>>;

export type SettingName = keyof typeof SETTINGS;

/** What a value of `setting` must be, for messages: `a whole number from 1 to 10000`. */
export function expectedValue(setting: Setting): string {
  switch (setting.kind) {
    case "integer":
      return setting.max === Number.MAX_SAFE_INTEGER ? `a whole number, ${setting.min} or more` : `a whole number from ${setting.min} to ${setting.max}`;
    case "duration":
      return `a positive duration: milliseconds, or numbers with ms, s, m or h ("30s", "500ms", "1m30s"), at most about 24 days`;
    case "boolean":
      return "true or false (also 1/0, on/off, yes/no)";
    case "choice":
      return setting.choices.map((choice) => `"${choice}"`).join(" or ");
    case "text":
      return setting.maxLength === undefined ? setting.names : `${setting.names} of 1 to ${setting.maxLength} characters`;
  }
}

/** Whether `value` (already a number, not text) is a whole number in the setting's range. */
export function isInRange(setting: IntegerSetting, value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= setting.min && value <= setting.max;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const DURATION_TEXT = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const BARE_NUMBER = /^\d+(?:\.\d+)?$/;

/**
 * The one duration grammar of Funker (options, variables, funker.yml, flags):
 * a number of milliseconds (`250`, `"250"`), or numbers each followed by
 * `ms`, `s`, `m` or `h`, written together (`"500ms"`, `"30s"`, `"1m30s"`,
 * `"1.5s"`). Space around the whole is ignored; space inside is not allowed
 * (`"30 s"` is refused, so a value reads the same in YAML, shells and
 * variables). Returns whole milliseconds, or undefined for anything else,
 * for zero, and for more than Node's longest timer (about 24.8 days): no
 * Funker duration means "never" or "at once".
 */
export function parseDuration(value: unknown): number | undefined {
  const milliseconds = durationMilliseconds(value);
  return milliseconds !== undefined && milliseconds >= 1 && milliseconds <= LONGEST_TIMER_MS ? milliseconds : undefined;
}

/** Whether `value` is written as a duration but is longer than Node's longest timer: for a message that says so. */
export function isDurationTooLong(value: unknown): boolean {
  const milliseconds = durationMilliseconds(value);
  return milliseconds !== undefined && milliseconds > LONGEST_TIMER_MS;
}

/** The grammar alone: whole milliseconds, or undefined when `value` is not written as a duration. */
function durationMilliseconds(value: unknown): number | undefined {
  let milliseconds: number;
  if (typeof value === "number") milliseconds = value;
  else if (typeof value !== "string") return undefined;
  else {
    const text = value.trim();
    if (BARE_NUMBER.test(text)) milliseconds = Number(text);
    else if (DURATION_TEXT.test(text)) {
      milliseconds = 0;
      for (const [, amount, unit] of text.matchAll(DURATION_PART)) milliseconds += Number(amount) * (UNIT_MS[unit ?? ""] ?? Number.NaN);
    } else return undefined;
  }
  return Number.isFinite(milliseconds) ? Math.round(milliseconds) : undefined;
}

/**
 * Exit codes. 0 means the replica did its job: it delivered a reply (a result
 * or a typed error) or its caller went away, and the orchestrator should start
 * a fresh one, as in 2017. Anything else means the process itself is broken.
 */
export const ExitCode = {
  /** The call was answered (or the caller left), or the process was told to stop. */
  done: 0,
  /** Start-up failed: an invalid option, or the port could not be bound. */
  startupFailed: 1,
  /** An uncaught exception or unhandled rejection: the process state is suspect (70 is EX_SOFTWARE). */
  uncaughtFault: 70,
  /**
   * The process ended itself because work of the function outlived
   * `drainTimeout`: work left running after the reply (single-shot, fresh), or
   * a body that ignored its abort signal (reuse mode: after the other calls
   * finished). A normal recycle, not a crash: start a fresh one at once (75 is
   * EX_TEMPFAIL). Its log line says what was still running.
   */
  recycled: 75,
} as const;

/** Where Docker (Swarm and Compose) gives a container its secrets, one file per secret named after it. */
export const DOCKER_SECRETS_FOLDER = "/run/secrets";
/** Names the folder of a replica's secrets when it is not Docker's (`funker dev` sets it). */
export const SECRETS_FOLDER_VARIABLE = "FUNKER_SECRETS_DIR";
/** A secret's name: no path separator, and no "." or ".." (it starts with a letter or digit). */
export const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/**
 * Names an open descriptor (a pipe the starting tool holds) on which a fresh
 * replica writes `READY_LINE` once it takes calls: listening, with a process
 * waiting. A tool that starts replicas learns readiness from the replica
 * itself, without connecting (a connection would be a call) or polling the
 * kernel's socket table. The replica removes it from its processes' environment.
 */
export const READY_FD_VARIABLE = "FUNKER_READY_FD";
/** What a fresh replica writes on `READY_FD_VARIABLE`'s descriptor, once. */
export const READY_LINE = "ready\n";

/**
 * The line a replica writes on stderr for each call, one JSON object a line.
 * Arguments, results, metadata and credentials are never in it. `funker dev`
 * counts calls and decides restarts from it, so its fields change only with
 * this type.
 */
export type CallLogLine = {
  readonly level: "info" | "error";
  readonly msg: "call";
  /** The caller's call id (one made up for legacy callers). */
  readonly id: string;
  /** The function name the caller asked for; absent for legacy callers. */
  readonly function?: string;
  /** Absent when the caller sent nothing recognisable. */
  readonly protocol?: WireMode;
  readonly durationMs: number;
  readonly outcome: "ok" | "error";
  /** The error's code, when the outcome is an error. */
  readonly code?: string;
  /**
   * What the function threw (its name, message and stack), only when the
   * handler sends stacks to callers (`exposeStacks`): a message may hold
   * call data, so it is logged only where the caller would see it anyway.
   */
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
};

/** A line about the process itself (a start-up failure, an uncaught exception), never about a call's data. */
export type ProcessLogLine = {
  readonly level: "error" | "fatal";
  readonly msg: string;
  readonly name?: string;
  readonly message?: string;
  readonly stack?: string;
};

export type LogLine = CallLogLine | ProcessLogLine;

/** The fields of a call's log line, in the order they are written. */
export function callLogLine(call: {
  readonly id: string;
  readonly functionName: string | undefined;
  readonly protocol: WireMode | undefined;
  readonly durationMs: number;
  readonly errorCode: string | undefined;
  /** The thrown error's details, when they may be logged (see `CallLogLine`). */
  readonly thrown?: { readonly name?: string | undefined; readonly message: string; readonly stack: string } | undefined;
}): CallLogLine {
  const failed = call.errorCode !== undefined;
  const line: { -readonly [Key in keyof CallLogLine]: CallLogLine[Key] } = {
    level: failed ? "error" : "info",
    msg: "call",
    id: call.id,
    function: call.functionName,
    protocol: call.protocol,
    durationMs: call.durationMs,
    outcome: failed ? "error" : "ok",
  };
  if (failed) line.code = call.errorCode;
  if (failed && call.thrown !== undefined) {
    if (call.thrown.name !== undefined) line.name = call.thrown.name;
    line.message = call.thrown.message;
    line.stack = call.thrown.stack;
  }
  return line;
}

/** Whether a log line is about a call (else it is about the process). */
export function isCallLine(line: LogLine): line is CallLogLine {
  return line.msg === "call";
}

/**
 * Reads one line of a replica's stderr: a call's or the process's log line,
 * or undefined for anything else (what the function prints itself).
 */
export function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith("{")) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const line = value as Record<string, unknown>;
  const optionalText = (key: string): boolean => line[key] === undefined || typeof line[key] === "string";
  if (line["msg"] === "call") {
    const valid =
      (line["level"] === "info" || line["level"] === "error") &&
      typeof line["id"] === "string" &&
      (line["protocol"] === undefined || line["protocol"] === "framed" || line["protocol"] === "legacy") &&
      typeof line["durationMs"] === "number" &&
      (line["outcome"] === "ok" || line["outcome"] === "error") &&
      optionalText("function") &&
      optionalText("code") &&
      optionalText("name") &&
      optionalText("message") &&
      optionalText("stack");
    return valid ? (line as CallLogLine) : undefined;
  }
  const valid =
    (line["level"] === "error" || line["level"] === "fatal") &&
    typeof line["msg"] === "string" &&
    optionalText("name") &&
    optionalText("message") &&
    optionalText("stack");
  return valid ? (line as ProcessLogLine) : undefined;
}
