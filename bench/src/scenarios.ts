/**
 * The scenarios. Each one runs its Funker side and its baseline in the same
 * run, round by round (baseline, Funker, baseline, Funker, …), and returns
 * the rows of the report: medians over rounds, and ratios taken pair by pair.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { FrameDecoder, PREFACE, encodeCall } from "@funker/protocol";
import type { CallerKind, RoundMeasurement } from "./messages.js";
import {
  CallerProcess,
  childEnvironment,
  cpuMilliseconds,
  connectWhenListening,
  freePort,
  funkerAddBundle,
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
  run(settings: Settings): Promise<ScenarioResult>;
}

function row(
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

interface ServerSpec {
  role: string;
  args: (port: number) => string[];
  environment: (port: number) => Record<string, string>;
}

const funkerReuse = (concurrency = 1): ServerSpec => ({
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

const rawServer = (name: "raw-per-call" | "raw-persistent"): ServerSpec => ({
  role: name,
  args: () => [serverScript(name)],
  environment: (port) => ({ BENCH_PORT: String(port) }),
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

interface Side {
  server: ServerSpec;
  replicas: number;
  caller: CallerKind;
}

/** Runs both sides' callers against their servers, interleaved round by round. */
async function throughputPairs(
  settings: Settings,
  funkerSide: Side,
  baselineSide: Side,
  concurrency: number,
): Promise<{ funker: RoundMeasurement[]; baseline: RoundMeasurement[]; serverCpu: { funker: number[]; baseline: number[] } }> {
  const funkerServers = await startServers(funkerSide.server, funkerSide.replicas, settings);
  const baselineServers = await startServers(baselineSide.server, baselineSide.replicas, settings);
  const funkerCaller = new CallerProcess({ kind: funkerSide.caller, ports: funkerServers.ports, concurrency }, settings.profileArgs(`caller-${funkerSide.caller}`));
  const baselineCaller = new CallerProcess({ kind: baselineSide.caller, ports: baselineServers.ports, concurrency }, settings.profileArgs(`caller-${baselineSide.caller}`));
  try {
    await baselineCaller.run(settings.warmupMs, concurrency);
    await funkerCaller.run(settings.warmupMs, concurrency);
    const funker: RoundMeasurement[] = [];
    const baseline: RoundMeasurement[] = [];
    const serverCpu = { funker: [] as number[], baseline: [] as number[] };
    const measure = async (caller: CallerProcess, side: Side, servers: ChildProcess[]): Promise<[RoundMeasurement, number]> => {
      const cpuBefore = await totalCpuMilliseconds(servers);
      const measurement = checked(await caller.run(settings.roundMs, concurrency), side.caller);
      const cpuMs = (await totalCpuMilliseconds(servers)) - cpuBefore;
      return [measurement, (cpuMs * 1_000) / measurement.calls];
    };
    for (let round = 0; round < settings.rounds; round += 1) {
      const [baselineRound, baselineCpu] = await measure(baselineCaller, baselineSide, baselineServers.children);
      baseline.push(baselineRound);
      serverCpu.baseline.push(baselineCpu);
      const [funkerRound, funkerCpu] = await measure(funkerCaller, funkerSide, funkerServers.children);
      funker.push(funkerRound);
      serverCpu.funker.push(funkerCpu);
    }
    return { funker, baseline, serverCpu };
  } finally {
    await Promise.all([funkerCaller.close(), baselineCaller.close()]);
    await Promise.all([...funkerServers.children, ...baselineServers.children].map(stop));
  }
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

const callsPerSecond = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.callsPerSecond);
const p50 = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.p50Ms);
const p99 = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.p99Ms);
const cpuPerCall = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.cpuMicrosPerCall);

const warmPerCall: Scenario = {
  name: "per-call",
  title: "warm call, one connection per call, one caller (reuse mode, framed)",
  async run(settings) {
    const result = await throughputPairs(
      settings,
      { server: funkerReuse(), replicas: 1, caller: "funker-per-call" },
      { server: rawServer("raw-per-call"), replicas: 1, caller: "raw-per-call" },
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
      { server: rawServer("raw-persistent"), replicas: 1, caller: "raw-persistent" },
      1,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), "one persistent TCP connection, length-prefixed JSON", callsPerSecond(result.baseline), {
          op: ">=",
          value: 0.6,
        }),
        row(this.title, "p50 latency", "ms", p50(result.funker), "persistent TCP connection", p50(result.baseline), undefined),
        row(
          "client CPU per call, kept connection",
          "caller CPU µs per call",
          "µs",
          cpuPerCall(result.funker),
          "bare Node client on a persistent connection",
          cpuPerCall(result.baseline),
          { op: "<=", value: 1.2 },
        ),
        row(this.title, "replica CPU µs per call", "µs", result.serverCpu.funker, "the raw server", result.serverCpu.baseline, undefined),
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
      { server: rawServer("raw-persistent"), replicas: REPLICAS, caller: "raw-persistent" },
      CONCURRENT_CALLERS,
    );
    return {
      rows: [
        row(this.title, "calls/s", "calls/s", callsPerSecond(result.funker), `${REPLICAS} raw length-prefixed servers`, callsPerSecond(result.baseline), {
          op: ">=",
          value: 0.85,
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
  const socket = await connectWhenListening(port, 15_000, child);
  try {
    await exchange(socket);
  } finally {
    socket.destroy();
  }
  const replyMs = performance.now() - startedAt;
  const [code] = (await exited) as [number | null];
  const exitMs = performance.now() - startedAt;
  if (code !== 0) throw new Error(`${args.join(" ")} exited with ${code}`);
  return { replyMs, exitMs };
}

function readToEnd(socket: Socket): Promise<Buffer> {
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
  // The handler accepts the call with a heartbeat before it runs the function.
  const first = frames.find((frame) => frame.type !== "heartbeat");
  if (first?.type !== "result" || new TextDecoder().decode(first.body) !== "3") throw new Error(`unexpected reply ${JSON.stringify(first)}`);
}

async function jsonExchange(socket: Socket): Promise<void> {
  const reply = readToEnd(socket);
  socket.end(JSON.stringify({ x: 1, y: 2 }));
  const text = (await reply).toString("utf8");
  if (text !== "3") throw new Error(`unexpected reply ${text}`);
}

async function httpExchange(socket: Socket): Promise<void> {
  const reply = readToEnd(socket);
  const body = JSON.stringify({ x: 1, y: 2 });
  socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  const text = (await reply).toString("utf8");
  if (!text.startsWith("HTTP/1.1 200")) throw new Error(`unexpected reply ${text.slice(0, 200)}`);
}

const funkerSingleShotEnvironment = (port: number): Record<string, string> => ({
  FUNKER_PORT: String(port),
  FUNKER_HOST: "127.0.0.1",
  FUNKER_MODE: "single-shot",
  FUNKER_LOG: "off",
});

async function funkerSingleShot(settings: Settings, profileRole?: string): Promise<Cycle> {
  const port = await freePort();
  return cycle([funkerAddBundle], funkerSingleShotEnvironment(port), port, framedExchange, profileRole === undefined ? [] : settings.profileArgs(profileRole));
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
async function medianOf<T>(count: number, measure: () => Promise<T>, pick: (value: T) => number): Promise<number> {
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

const coldStart: Scenario = {
  name: "cold-start",
  title: "cold start to first reply",
  async run(settings) {
    const funker: number[] = [];
    const framework: number[] = [];
    const frameworkCycle = async (): Promise<Cycle> => {
      const port = await freePort();
      const child = spawnNode(functionsFramework.args(port), childEnvironment());
      const startedAt = performance.now();
      const socket = await connectWhenListening(port, 15_000, child);
      try {
        await httpExchange(socket);
      } finally {
        socket.destroy();
      }
      const replyMs = performance.now() - startedAt;
      await stop(child);
      return { replyMs, exitMs: Number.NaN };
    };
    await frameworkCycle();
    for (let round = 0; round < settings.rounds; round += 1) {
      framework.push(await medianOf(settings.cyclesPerRound, frameworkCycle, (value) => value.replyMs));
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
    const measure = async (spec: ServerSpec, exchange: (socket: Socket) => Promise<void>): Promise<number> => {
      const port = await freePort();
      const child = spawnNode(spec.args(port), childEnvironment(spec.environment(port)));
      try {
        const socket = await connectWhenListening(port, 15_000, child);
        try {
          await exchange(socket);
        } finally {
          socket.destroy();
        }
        // Idle: let the call's garbage and timers settle before reading the RSS.
        await new Promise((resolve) => setTimeout(resolve, settings.quick ? 100 : 300));
        return (await residentBytes(child.pid as number)) / (1024 * 1024);
      } finally {
        await stop(child);
      }
    };
    const funker: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < settings.rounds; round += 1) {
      bare.push(await measure(rawServer("raw-per-call"), jsonExchange));
      funker.push(await measure(funkerReuse(), framedExchangeKept));
    }
    return {
      rows: [row(this.title, "RSS", "MiB", funker, "bare Node `net` server", bare, { op: "<=", value: 1.1 })],
      notes: [],
    };
  },
};

/** A framed call to a reuse-mode replica, which keeps the connection: read the one RESULT frame, then leave. */
async function framedExchangeKept(socket: Socket): Promise<void> {
  const decoder = new FrameDecoder();
  const result = new Promise<void>((resolve, reject) => {
    socket.on("data", (chunk: Buffer) => {
      // The handler accepts the call with a heartbeat before it runs the function.
      const first = decoder.push(chunk).find((frame) => frame.type !== "heartbeat");
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

export const scenarios: readonly Scenario[] = [warmPerCall, warmKept, concurrent, againstFunctionsFramework, singleShotCycle, coldStart, idleMemory, localRuntime, ...freshScenarios];
