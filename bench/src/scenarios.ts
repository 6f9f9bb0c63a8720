/**
 * The scenarios. Each one runs its Funker side and its baseline in the same
 * run, round by round (baseline, Funker, baseline, Funker, …), and returns
 * the rows of the report: medians over rounds, and ratios taken pair by pair.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { FrameDecoder, PREFACE, encodeCall } from "@funker/protocol";
import { BENCH_SECRET } from "./messages.js";
import type { CallerKind, RoundMeasurement } from "./messages.js";
import {
  CallerProcess,
  childEnvironment,
  cpuMilliseconds,
  connectWhenListening,
  freePort,
  funkerAddBundle,
  isPreamble,
  repositoryRoot,
  residentBytes,
  serverScript,
  spawnNode,
  stop,
  waitForListening,
} from "./processes.js";
import { pairRatios, summarize } from "./stats.js";
import { freshScenarios } from "./fresh-scenarios.js";
import { startDevRuntime } from "./dev-runtime.js";
import type { Summary } from "./stats.js";

export interface Settings {
  quick: boolean;
  /** Pairs of rounds (one baseline, one Funker) per scenario. */
  rounds: number;
  /** Length of one throughput round. */
  roundMs: number;
  /** Calls made by each caller before its first measured round (JIT, pools, connections). */
  warmupMs: number;
  /**
   * Calls each caller of a throughput scenario makes before its first
   * measured round, at least: a heavy stack (gRPC, Connect) still speeds up
   * after thousands of calls, which take it more than `warmupMs`. Warm-up
   * then goes on in `warmupMs` steps, up to `MAX_WARMUP_STEPS` of them.
   */
  warmupCalls: number;
  /** Process cycles per round in the whole-process scenarios. */
  cyclesPerRound: number;
  /** Extra Node flags for Funker's processes (`--cpu-prof`), empty when not profiling. */
  profileArgs: (role: string) => string[];
}

export interface Goal {
  /** `>=`: the ratio must be at least `value` (throughput); `<=`: at most (time, memory, CPU). */
  op: ">=" | "<=";
  value: number;
}

export interface Row {
  scenario: string;
  metric: string;
  unit: "calls/s" | "ms" | "MiB" | "µs";
  funker: Summary;
  baselineLabel: string;
  baseline: Summary | undefined;
  ratio: Summary | undefined;
  goal: Goal | undefined;
  met: boolean | undefined;
  note?: string;
}

export interface ScenarioResult {
  rows: Row[];
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  /** The limit on the whole scenario, when the usual one (main.ts) is too short for its rounds. */
  timeoutMs?: (settings: Settings) => number;
  run(settings: Settings): Promise<ScenarioResult>;
}

export function row(
  scenario: string,
  metric: string,
  unit: Row["unit"],
  funker: number[],
  baselineLabel: string,
  baseline: number[] | undefined,
  goal: Goal | undefined,
): Row {
  const ratio = baseline === undefined ? undefined : summarize(pairRatios(funker, baseline));
  const met = ratio === undefined || goal === undefined ? undefined : goal.op === ">=" ? ratio.median >= goal.value : ratio.median <= goal.value;
  return {
    scenario,
    metric,
    unit,
    funker: summarize(funker),
    baselineLabel,
    baseline: baseline === undefined ? undefined : summarize(baseline),
    ratio,
    goal,
    met,
  };
}

export interface ServerSpec {
  role: string;
  args: (port: number) => string[];
  environment: (port: number) => Record<string, string>;
}

export const funkerReuse = (concurrency = 1): ServerSpec => ({
  role: "handler",
  args: () => [funkerAddBundle],
  environment: (port) => ({
    FUNKER_PORT: String(port),
    FUNKER_HOST: "127.0.0.1",
    FUNKER_MODE: "reuse",
    FUNKER_LOG: "off",
    FUNKER_CONCURRENCY: String(concurrency),
  }),
});

/** One of the bench's own servers (src/servers/<name>.ts), told its port by BENCH_PORT. */
export const benchServer = (name: string, environment: Record<string, string> = {}, role = name): ServerSpec => ({
  role,
  args: () => [serverScript(name)],
  environment: (port) => ({ BENCH_PORT: String(port), ...environment }),
});

function functionsFrameworkMain(): string {
  return join(repositoryRoot, "bench", "node_modules", "@google-cloud", "functions-framework", "build", "src", "main.js");
}

const functionsFramework: ServerSpec = {
  role: "functions-framework",
  args: (port) => [functionsFrameworkMain(), "--target=add", "--signature-type=http", `--source=${serverScript("functions-framework-add")}`, `--port=${port}`],
  environment: () => ({}),
};

async function startServers(spec: ServerSpec, count: number, settings: Settings): Promise<{ ports: number[]; children: ChildProcess[] }> {
  const ports: number[] = [];
  const children: ChildProcess[] = [];
  for (let index = 0; index < count; index += 1) {
    const port = await freePort();
    const child = spawnNode(spec.args(port), childEnvironment(spec.environment(port)), settings.profileArgs(`${spec.role}-${index}`));
    ports.push(port);
    children.push(child);
  }
  await Promise.all(ports.map((port, index) => waitForListening(port, children[index] as ChildProcess)));
  return { ports, children };
}

export interface Side {
  server: ServerSpec;
  replicas: number;
  caller: CallerKind;
}

/** A side's rounds against one baseline: each baseline round is paired with the Funker round right after it. */
export interface PairedRounds {
  funker: RoundMeasurement[];
  baseline: RoundMeasurement[];
  /** Server CPU µs per call of each round, from /proc/<pid>/stat of the side's servers. */
  serverCpu: { funker: number[]; baseline: number[] };
}

/**
 * Runs the Funker side against each baseline, interleaved round by round:
 * baseline 1, Funker, baseline 2, Funker, … Every server and caller stays up
 * for the whole scenario; one caller calls at a time.
 */
export async function throughputAgainst(settings: Settings, funkerSide: Side, baselineSides: readonly Side[], concurrency: number): Promise<PairedRounds[]> {
  const started = async (side: Side): Promise<{ side: Side; children: ChildProcess[]; caller: CallerProcess }> => {
    const servers = await startServers(side.server, side.replicas, settings);
    const caller = new CallerProcess({ kind: side.caller, ports: servers.ports, concurrency }, settings.profileArgs(`caller-${side.caller}`));
    return { side, children: servers.children, caller };
  };
  const funker = await started(funkerSide);
  const baselines: Awaited<ReturnType<typeof started>>[] = [];
  try {
    // Side by side: a peer's server can take a few hundred ms to listen.
    const outcomes = await Promise.allSettled(baselineSides.map(started));
    for (const outcome of outcomes) if (outcome.status === "fulfilled") baselines.push(outcome.value);
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    for (const baseline of baselines) await warm(baseline.caller, settings, concurrency);
    await warm(funker.caller, settings, concurrency);
    const measure = async ({ side, children, caller }: typeof funker): Promise<[RoundMeasurement, number]> => {
      const cpuBefore = await totalCpuMilliseconds(children);
      const measurement = checked(await caller.run(settings.roundMs, concurrency), side.caller);
      const cpuMs = (await totalCpuMilliseconds(children)) - cpuBefore;
      return [measurement, (cpuMs * 1_000) / measurement.calls];
    };
    const pairs: PairedRounds[] = baselines.map(() => ({ funker: [], baseline: [], serverCpu: { funker: [], baseline: [] } }));
    for (let round = 0; round < settings.rounds; round += 1) {
      for (const [index, baseline] of baselines.entries()) {
        const pair = pairs[index] as PairedRounds;
        const [baselineRound, baselineCpu] = await measure(baseline);
        pair.baseline.push(baselineRound);
        pair.serverCpu.baseline.push(baselineCpu);
        const [funkerRound, funkerCpu] = await measure(funker);
        pair.funker.push(funkerRound);
        pair.serverCpu.funker.push(funkerCpu);
      }
    }
    return pairs;
  } finally {
    const all = [funker, ...baselines];
    await Promise.all(all.map(({ caller }) => caller.close()));
    await Promise.all(all.flatMap(({ children }) => children).map(stop));
  }
}

/** The longest warm-up of a caller, in steps of `warmupMs`: a stack still slow after it is measured as it is. */
export const MAX_WARMUP_STEPS = 5;

/** Calls for `warmupMs`, and on until the caller has made `warmupCalls` calls or used `MAX_WARMUP_STEPS` steps. */
async function warm(caller: CallerProcess, settings: Settings, concurrency: number): Promise<void> {
  let calls = 0;
  for (let step = 0; step < MAX_WARMUP_STEPS && (step === 0 || calls < settings.warmupCalls); step += 1) {
    calls += (await caller.run(settings.warmupMs, concurrency)).calls;
  }
}

/** Both sides' callers against their servers, interleaved round by round: baseline, Funker, baseline, Funker, … */
async function throughputPairs(settings: Settings, funkerSide: Side, baselineSide: Side, concurrency: number): Promise<PairedRounds> {
  const [pair] = await throughputAgainst(settings, funkerSide, [baselineSide], concurrency);
  return pair as PairedRounds;
}

async function totalCpuMilliseconds(children: readonly ChildProcess[]): Promise<number> {
  let total = 0;
  for (const child of children) total += await cpuMilliseconds(child.pid as number);
  return total;
}

function checked(measurement: RoundMeasurement, kind: CallerKind): RoundMeasurement {
  if (measurement.errors > 0) {
    throw new Error(`${kind}: ${measurement.errors} calls failed (${measurement.calls} succeeded); the first: ${measurement.firstError ?? "?"}`);
  }
  return measurement;
}

export const callsPerSecond = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.callsPerSecond);
export const p50 = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.p50Ms);
export const p99 = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.p99Ms);
export const cpuPerCall = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.cpuMicrosPerCall);

const warmPerCall: Scenario = {
  name: "per-call",
  title: "warm call, one connection per call, one caller (reuse mode, framed)",
  async run(settings) {
    const result = await throughputPairs(
      settings,
      { server: funkerReuse(), replicas: 1, caller: "funker-per-call" },
      { server: benchServer("raw-per-call"), replicas: 1, caller: "raw-per-call" },
      1,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), "Node `net` pair, JSON + half-close", callsPerSecond(result.baseline), { op: ">=", value: 0.85 }),
        row(this.title, "p50 latency", "ms", p50(result.funker), "Node `net` pair", p50(result.baseline), undefined),
        row(
          "client CPU per call, one connection per call",
          "caller CPU µs per call",
          "µs",
          cpuPerCall(result.funker),
          "bare Node `net` client",
          cpuPerCall(result.baseline),
          { op: "<=", value: 1.2 },
        ),
        row(this.title, "replica CPU µs per call", "µs", result.serverCpu.funker, "the raw server", result.serverCpu.baseline, undefined),
      ],
      notes: [],
    };
  },
};

const warmKept: Scenario = {
  name: "kept",
  title: "warm call, connection kept between calls (reuse mode)",
  async run(settings) {
    const result = await throughputPairs(
      settings,
      { server: funkerReuse(), replicas: 1, caller: "funker-kept" },
      { server: benchServer("raw-persistent"), replicas: 1, caller: "raw-persistent" },
      1,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), "one persistent TCP connection, length-prefixed JSON", callsPerSecond(result.baseline), {
          op: ">=",
          value: 0.85,
        }),
        row(this.title, "p50 latency", "ms", p50(result.funker), "persistent TCP connection", p50(result.baseline), undefined),
        row(
          "client CPU per call, kept connection",
          "caller CPU µs per call",
          "µs",
          cpuPerCall(result.funker),
          "bare Node client on a persistent connection",
          cpuPerCall(result.baseline),
          { op: "<=", value: 1.15 },
        ),
        row(this.title, "replica CPU µs per call", "µs", result.serverCpu.funker, "the raw server", result.serverCpu.baseline, undefined),
      ],
      notes: [],
    };
  },
};

/**
 * The cost of signed calls (PROTOCOL.md section 6.8): the same kept-connection
 * call signed and unsigned, against the same handler build, one with keys and
 * one without. The caller hashes the arguments and signs; the replica checks
 * the MAC and its replay window.
 */
const signedCalls: Scenario = {
  name: "signed",
  title: "signed calls against unsigned ones, connection kept (reuse mode)",
  async run(settings) {
    const signedServer: ServerSpec = { ...funkerReuse(), environment: (port) => ({ ...funkerReuse().environment(port), FUNKER_SECRET: BENCH_SECRET }) };
    const result = await throughputPairs(
      settings,
      { server: signedServer, replicas: 1, caller: "funker-kept-signed" },
      { server: funkerReuse(), replicas: 1, caller: "funker-kept" },
      1,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), "Funker unsigned, same build", callsPerSecond(result.baseline), undefined),
        row(this.title, "caller CPU µs per call", "µs", cpuPerCall(result.funker), "Funker unsigned", cpuPerCall(result.baseline), undefined),
        row(this.title, "replica CPU µs per call", "µs", result.serverCpu.funker, "Funker unsigned", result.serverCpu.baseline, undefined),
      ],
      notes: [],
    };
  },
};

/** Callers in flight at once, and replicas they share. */
const CONCURRENT_CALLERS = 16;
const REPLICAS = 4;

const concurrent: Scenario = {
  name: "concurrent",
  title: `${CONCURRENT_CALLERS} concurrent callers over ${REPLICAS} replicas, kept connections`,
  async run(settings) {
    // Four slots per replica: sixteen in all, one for each caller in flight.
    const result = await throughputPairs(
      settings,
      { server: funkerReuse(CONCURRENT_CALLERS / REPLICAS), replicas: REPLICAS, caller: "funker-kept" },
      { server: benchServer("raw-persistent"), replicas: REPLICAS, caller: "raw-persistent" },
      CONCURRENT_CALLERS,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), `${REPLICAS} raw length-prefixed servers`, callsPerSecond(result.baseline), {
          op: ">=",
          value: 0.9,
        }),
        row(this.title, "p99 latency", "ms", p99(result.funker), `${REPLICAS} raw servers`, p99(result.baseline), undefined),
        row(this.title, "caller CPU µs per call", "µs", cpuPerCall(result.funker), "bare Node client", cpuPerCall(result.baseline), undefined),
        row(this.title, "replicas' CPU µs per call", "µs", result.serverCpu.funker, "the raw servers", result.serverCpu.baseline, undefined),
      ],
      notes: [`Each replica runs with FUNKER_CONCURRENCY=${CONCURRENT_CALLERS / REPLICAS}; the caller is one process with ${CONCURRENT_CALLERS} calls in flight.`],
    };
  },
};

const againstFunctionsFramework: Scenario = {
  name: "functions-framework",
  title: "warm call against @google-cloud/functions-framework (HTTP keep-alive)",
  async run(settings) {
    const result = await throughputPairs(
      settings,
      { server: funkerReuse(), replicas: 1, caller: "funker-kept" },
      { server: functionsFramework, replicas: 1, caller: "http-keep-alive" },
      1,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), "functions-framework, Node http keep-alive agent", callsPerSecond(result.baseline), {
          op: ">=",
          value: 1.5,
        }),
        row(this.title, "p50 latency", "ms", p50(result.funker), "functions-framework", p50(result.baseline), { op: "<=", value: 0.6 }),
        row(this.title, "server CPU µs per call", "µs", result.serverCpu.funker, "functions-framework", result.serverCpu.baseline, undefined),
      ],
      notes: [],
    };
  },
};

/** Spawn to exit, as an orchestrator sees a single-shot replica: spawn, connect once it listens, call, wait for the exit. */
interface Cycle {
  replyMs: number;
  exitMs: number;
}

async function cycle(args: string[], environment: Record<string, string>, port: number, exchange: (socket: Socket) => Promise<void>, execArgv: string[] = []): Promise<Cycle> {
  const startedAt = performance.now();
  const child = spawnNode(args, childEnvironment(environment), execArgv);
  const exited = once(child, "exit");
  await callWhenListening(port, child, exchange);
  const replyMs = performance.now() - startedAt;
  const [code] = (await exited) as [number | null];
  const exitMs = performance.now() - startedAt;
  if (code !== 0) throw new Error(`${args.join(" ")} exited with ${code}`);
  return { replyMs, exitMs };
}

/** Connects as soon as the child's port listens, makes the one call, and closes the connection. */
async function callWhenListening(port: number, child: ChildProcess, exchange: (socket: Socket) => Promise<void>): Promise<void> {
  const socket = await connectWhenListening(port, 15_000, child);
  try {
    await exchange(socket);
  } finally {
    socket.destroy();
  }
}

export function readToEnd(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.once("error", reject);
    socket.once("end", () => resolve(Buffer.concat(chunks)));
  });
}

/** The Funker caller's side of a single-shot call: preface and CALL frame, then the RESULT frame. */
async function framedExchange(socket: Socket): Promise<void> {
  const reply = readToEnd(socket);
  socket.cork();
  socket.write(PREFACE);
  socket.write(encodeCall({ id: "bench", function: "add", deadline: Date.now() + 30_000 }, { x: 1, y: 2 }));
  socket.uncork();
  const frames = new FrameDecoder().push(await reply);
  // The handler greets with HELLO and accepts the call with a heartbeat before it runs the function.
  const first = frames.find((frame) => !isPreamble(frame));
  if (first?.type !== "result" || new TextDecoder().decode(first.body) !== "3") throw new Error(`unexpected reply ${JSON.stringify(first)}`);
}

async function jsonExchange(socket: Socket): Promise<void> {
  const reply = readToEnd(socket);
  socket.end(JSON.stringify({ x: 1, y: 2 }));
  const text = (await reply).toString("utf8");
  if (text !== "3") throw new Error(`unexpected reply ${text}`);
}

/** One HTTP/1.1 POST on the socket, `Connection: close`: the body of its 200 reply (every server here sends a Content-Length, no chunks). */
export async function http1Post(socket: Socket, path: string, contentType: string, body: Buffer): Promise<Buffer> {
  const reply = readToEnd(socket);
  socket.cork();
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  socket.write(body);
  socket.uncork();
  const bytes = await reply;
  const text = bytes.toString("latin1");
  if (!text.startsWith("HTTP/1.1 200")) throw new Error(`unexpected reply ${text.slice(0, 200)}`);
  return bytes.subarray(text.indexOf("\r\n\r\n") + 4);
}

/** `{x: 1, y: 2}` as JSON to `/`, answered with `3`: the Functions Framework's and bare `node:http`'s first call. */
export async function httpExchange(socket: Socket): Promise<void> {
  const reply = (await http1Post(socket, "/", "application/json", Buffer.from(JSON.stringify({ x: 1, y: 2 }), "utf8"))).toString("utf8");
  if (reply !== "3") throw new Error(`unexpected reply body ${reply.slice(0, 200)}`);
}

const funkerSingleShotEnvironment = (port: number): Record<string, string> => ({
  FUNKER_PORT: String(port),
  FUNKER_HOST: "127.0.0.1",
  FUNKER_MODE: "single-shot",
  FUNKER_LOG: "off",
});

async function funkerSingleShot(settings: Settings, profileRole?: string, extra: Record<string, string> = {}): Promise<Cycle> {
  const port = await freePort();
  return cycle([funkerAddBundle], { ...funkerSingleShotEnvironment(port), ...extra }, port, framedExchange, profileRole === undefined ? [] : settings.profileArgs(profileRole));
}

async function bareSingleShot(): Promise<Cycle> {
  const port = await freePort();
  return cycle([serverScript("bare-single-shot")], { BENCH_PORT: String(port) }, port, jsonExchange);
}

async function nodeEmpty(): Promise<number> {
  const startedAt = performance.now();
  const child = spawnNode(["-e", "0"], childEnvironment());
  await once(child, "exit");
  return performance.now() - startedAt;
}

async function cycles(count: number, measure: () => Promise<Cycle>): Promise<Cycle[]> {
  const values: Cycle[] = [];
  for (let index = 0; index < count; index += 1) values.push(await measure());
  return values;
}

/** Medians of a few cycles make one round's figure; rounds then alternate between the sides. */
export async function medianOf<T>(count: number, measure: () => Promise<T>, pick: (value: T) => number): Promise<number> {
  const values: number[] = [];
  for (let index = 0; index < count; index += 1) values.push(pick(await measure()));
  return summarize(values).median;
}

const singleShotCycle: Scenario = {
  name: "single-shot",
  title: "single-shot cycle: spawn, first call answered, process exited",
  async run(settings) {
    const funker: number[] = [];
    const bare: number[] = [];
    const funkerReply: number[] = [];
    const bareReply: number[] = [];
    const empty: number[] = [];
    await funkerSingleShot(settings);
    await bareSingleShot();
    for (let round = 0; round < settings.rounds; round += 1) {
      const bareCycles = await cycles(settings.cyclesPerRound, bareSingleShot);
      bare.push(summarize(bareCycles.map((value) => value.exitMs)).median);
      bareReply.push(summarize(bareCycles.map((value) => value.replyMs)).median);
      const funkerCycles = await cycles(settings.cyclesPerRound, () => funkerSingleShot(settings, round === 0 ? "single-shot" : undefined));
      funker.push(summarize(funkerCycles.map((value) => value.exitMs)).median);
      funkerReply.push(summarize(funkerCycles.map((value) => value.replyMs)).median);
      empty.push(await medianOf(settings.cyclesPerRound, nodeEmpty, (value) => value));
    }
    return {
      rows: [
        row(this.title, "spawn → exit", "ms", funker, "bare Node script: bind, answer one JSON call, exit", bare, { op: "<=", value: 1.1 }),
        row(this.title, "spawn → reply", "ms", funkerReply, "the bare script", bareReply, undefined),
        row("Node's floor: `node -e 0`, spawn → exit", "spawn → exit", "ms", empty, "—", undefined, undefined),
      ],
      notes: [],
    };
  },
};

/**
 * Spawn → first reply of a server that stays up, as a deployment starts it:
 * the clock starts before the spawn, the caller connects as soon as the port
 * listens and makes one call. With `idleMs`, also its RSS once the call's
 * connection is closed and it has sat idle that long. The server is stopped after.
 */
export async function firstReply(spec: ServerSpec, exchange: (socket: Socket) => Promise<void>, idleMs?: number): Promise<{ replyMs: number; rssMiB: number }> {
  const port = await freePort();
  const startedAt = performance.now();
  const child = spawnNode(spec.args(port), childEnvironment(spec.environment(port)));
  try {
    await callWhenListening(port, child, exchange);
    const replyMs = performance.now() - startedAt;
    if (idleMs === undefined) return { replyMs, rssMiB: Number.NaN };
    // Idle: let the call's garbage and timers settle before reading the RSS.
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    return { replyMs, rssMiB: (await residentBytes(child.pid as number)) / (1024 * 1024) };
  } finally {
    await stop(child);
  }
}

/** How long a server sits idle after its one call before its RSS is read. */
export const idleMs = (settings: Settings): number => (settings.quick ? 100 : 300);

const coldStart: Scenario = {
  name: "cold-start",
  title: "cold start to first reply",
  async run(settings) {
    const funker: number[] = [];
    const framework: number[] = [];
    const frameworkCycle = (): Promise<number> => firstReply(functionsFramework, httpExchange).then((value) => value.replyMs);
    await frameworkCycle();
    for (let round = 0; round < settings.rounds; round += 1) {
      framework.push(await medianOf(settings.cyclesPerRound, frameworkCycle, (value) => value));
      funker.push(await medianOf(settings.cyclesPerRound, () => funkerSingleShot(settings), (value) => value.replyMs));
    }
    return {
      rows: [row(this.title, "spawn → first reply", "ms", funker, "functions-framework: spawn → first 200", framework, { op: "<=", value: 0.35 })],
      notes: [],
    };
  },
};

const idleMemory: Scenario = {
  name: "idle-rss",
  title: "idle RSS of a handler (reuse mode, after one call)",
  async run(settings) {
    const measure = async (spec: ServerSpec, exchange: (socket: Socket) => Promise<void>): Promise<number> => (await firstReply(spec, exchange, idleMs(settings))).rssMiB;
    const funker: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < settings.rounds; round += 1) {
      bare.push(await measure(benchServer("raw-per-call"), jsonExchange));
      funker.push(await measure(funkerReuse(), framedExchangeKept));
    }
    return {
      rows: [row(this.title, "RSS", "MiB", funker, "bare Node `net` server", bare, { op: "<=", value: 1.1 })],
      notes: [],
    };
  },
};

/** A framed call to a reuse-mode replica, which keeps the connection: read the one RESULT frame, then leave. */
export async function framedExchangeKept(socket: Socket): Promise<void> {
  const decoder = new FrameDecoder();
  const result = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      // The handler greets with HELLO and accepts the call with a heartbeat before it runs the function.
      const first = decoder.push(chunk).find((frame) => !isPreamble(frame));
      if (first === undefined) return;
      if (first.type === "result") resolve();
      else reject(new Error(`unexpected ${first.type} frame`));
    });
    socket.once("error", reject);
  });
  socket.cork();
  socket.write(PREFACE);
  socket.write(encodeCall({ id: "bench", function: "add", deadline: Date.now() + 30_000 }, { x: 1, y: 2 }));
  socket.uncork();
  await result;
}

/** Replicas of the local runtime scenario, and callers in flight against them (one per replica). */
const DEV_REPLICAS = 4;

const localRuntime: Scenario = {
  name: "funker-dev",
  title: `local runtime (\`funker dev\`), single-shot, ${DEV_REPLICAS} replicas`,
  async run(settings) {
    const runtime = await startDevRuntime("single-shot", DEV_REPLICAS);
    const caller = new CallerProcess({ kind: "funker-kept", ports: runtime.ports, concurrency: DEV_REPLICAS });
    const sustained: RoundMeasurement[] = [];
    const ideal: number[] = [];
    try {
      await caller.run(settings.warmupMs, DEV_REPLICAS);
      for (let round = 0; round < settings.rounds; round += 1) {
        const cycleMs = await medianOf(settings.cyclesPerRound, () => funkerSingleShot(settings), (value) => value.exitMs);
        ideal.push((DEV_REPLICAS * 1_000) / cycleMs);
        // Failed calls are part of what this scenario reports, not a reason to stop it.
        sustained.push(await caller.run(settings.roundMs, DEV_REPLICAS));
      }
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; funker dev said: ${runtime.output().slice(-1_000)}`);
    } finally {
      await caller.close();
      await runtime.stop();
    }
    const failed = sustained.reduce((sum, round) => sum + round.errors, 0);
    const succeeded = sustained.reduce((sum, round) => sum + round.calls, 0);
    const firstError = sustained.find((round) => round.firstError !== undefined)?.firstError;
    return {
      rows: [
        row(this.title, "sustained calls/s", "calls/s", callsPerSecond(sustained), `single-shot cycle × ${DEV_REPLICAS} replicas`, ideal, undefined),
        row(this.title, "p99 latency", "ms", p99(sustained), "—", undefined, undefined),
      ],
      notes: [
        `${failed} of ${failed + succeeded} calls failed${firstError === undefined ? "" : `; the first: ${firstError}`} (calls/s counts successful calls only).`,
        `${DEV_REPLICAS} callers in flight, one per replica, through the Funker client with FUNKER_ENDPOINTS as \`funker dev\` gives them; the baseline is ${DEV_REPLICAS} × 1000 / (the median single-shot cycle of the same round, in ms).`,
      ],
    };
  },
};

/** CPU ms of this process's reaped children (cutime + cstime): a single-shot replica's whole life, once it has exited. */
async function reapedChildrenCpuMilliseconds(): Promise<number> {
  const stat = await readFile("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const HARD_TIMEOUT_ON = { FUNKER_HARD_TIMEOUT: "on" };

/**
 * What `hardTimeout` costs where it is opt-in: the single-shot cycle (a
 * `/bin/sh` sleeper per call) and a reuse replica's idle memory and kept
 * calls (a watcher thread), each against the same build with it off, in the
 * same rounds; the single-shot cycle also against the bare script, as the
 * single-shot scenario's goal is.
 */
const hardTimeoutCost: Scenario = {
  name: "hard-timeout",
  title: "hardTimeout on against off",
  // Three sides of whole-process cycles per round, two replicas' memory, then kept calls: more than the usual limit.
  timeoutMs: (settings) => 60_000 + settings.rounds * 60_000,
  async run(settings) {
    const on: number[] = [];
    const off: number[] = [];
    const bare: number[] = [];
    const cpuOn: number[] = [];
    const cpuOff: number[] = [];
    const rssOn: number[] = [];
    const rssOff: number[] = [];
    const cpuPerCycle = async (extra: Record<string, string>): Promise<[number, number]> => {
      const before = await reapedChildrenCpuMilliseconds();
      const exits = (await cycles(settings.cyclesPerRound, () => funkerSingleShot(settings, undefined, extra))).map((value) => value.exitMs);
      return [summarize(exits).median, ((await reapedChildrenCpuMilliseconds()) - before) / settings.cyclesPerRound];
    };
    await funkerSingleShot(settings, undefined, HARD_TIMEOUT_ON);
    const rss = async (extra: Record<string, string>): Promise<number> => {
      const spec: ServerSpec = { ...funkerReuse(), environment: (port) => ({ ...funkerReuse().environment(port), ...extra }) };
      return (await firstReply(spec, framedExchangeKept, idleMs(settings))).rssMiB;
    };
    for (let round = 0; round < settings.rounds; round += 1) {
      bare.push(summarize((await cycles(settings.cyclesPerRound, bareSingleShot)).map((value) => value.exitMs)).median);
      const [offMs, offCpu] = await cpuPerCycle({});
      const [onMs, onCpu] = await cpuPerCycle(HARD_TIMEOUT_ON);
      off.push(offMs);
      cpuOff.push(offCpu);
      on.push(onMs);
      cpuOn.push(onCpu);
      rssOff.push(await rss({}));
      rssOn.push(await rss(HARD_TIMEOUT_ON));
    }
    const kept = await throughputPairs(
      settings,
      { server: { ...funkerReuse(), environment: (port) => ({ ...funkerReuse().environment(port), ...HARD_TIMEOUT_ON }) }, replicas: 1, caller: "funker-kept" },
      { server: funkerReuse(), replicas: 1, caller: "funker-kept" },
      1,
    );
    const cycleTitle = "single-shot cycle, hardTimeout on";
    return {
      rows: [
        row(cycleTitle, "spawn → exit", "ms", on, "the same, hardTimeout off", off, undefined),
        row(cycleTitle, "spawn → exit", "ms", on, "bare Node script: bind, answer one JSON call, exit", bare, { op: "<=", value: 1.1 }),
        row("single-shot cycle, hardTimeout off", "spawn → exit", "ms", off, "bare Node script", bare, { op: "<=", value: 1.1 }),
        row(cycleTitle, "CPU ms per cycle (reaped)", "ms", cpuOn, "the same, hardTimeout off", cpuOff, undefined),
        row("idle RSS, reuse mode, hardTimeout on", "RSS", "MiB", rssOn, "the same, hardTimeout off", rssOff, undefined),
        row("kept calls, reuse mode, hardTimeout on", "calls/s", "calls/s", callsPerSecond(kept.funker), "the same, hardTimeout off", callsPerSecond(kept.baseline), undefined),
        row("kept calls, reuse mode, hardTimeout on", "replica CPU µs per call", "µs", kept.serverCpu.funker, "the same, hardTimeout off", kept.serverCpu.baseline, undefined),
      ],
      notes: [
        "CPU per cycle is the replica's, read from this process's reaped children after each exit: the sleeper itself (a /bin/sh and a sleep, killed at the reply, reaped by init) is not in it.",
      ],
    };
  },
};

export const scenarios: readonly Scenario[] = [warmPerCall, warmKept, signedCalls, concurrent, againstFunctionsFramework, singleShotCycle, coldStart, idleMemory, localRuntime, hardTimeoutCost, ...freshScenarios];
