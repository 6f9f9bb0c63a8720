/**
 * Fresh mode's scenarios: what a call costs when every call gets a process
 * of its own, started ahead by the replica. Each is measured against a
 * baseline in the same run, round by round, as the other scenarios are.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { FrameDecoder, PREFACE, encodeCall } from "@funker/protocol";
import type { RoundMeasurement } from "./messages.js";
import { CallerProcess, childEnvironment, connectWhenListening, freePort, funkerAddBundle, isPreamble, residentBytes, spawnNode, stop } from "./processes.js";
import { startDevRuntime } from "./dev-runtime.js";
import type { DevRuntime } from "./dev-runtime.js";
import type { Goal, Row, Scenario } from "./scenarios.js";
import { pairRatios, summarize } from "./stats.js";

function row(scenario: string, metric: string, unit: Row["unit"], funker: number[], baselineLabel: string, baseline: number[] | undefined, goal?: Goal): Row {
  const ratio = baseline === undefined ? undefined : summarize(pairRatios(funker, baseline));
  const met = ratio === undefined || goal === undefined ? undefined : goal.op === ">=" ? ratio.median >= goal.value : ratio.median <= goal.value;
  return { scenario, metric, unit, funker: summarize(funker), baselineLabel, baseline: baseline === undefined ? undefined : summarize(baseline), ratio, goal, met };
}

const median = (values: readonly number[]): number => summarize(values).median;

/**
 * CPU time of a process and of its children that have exited (the kernel
 * adds a reaped child's time to its parent's cutime and cstime), in ms: a
 * fresh replica's supervisor with every process it has started and reaped.
 */
async function cpuWithReapedChildren(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return ticks * 10;
}

const freshEnvironment = (port: number, extra: Record<string, string> = {}): Record<string, string> => ({
  FUNKER_PORT: String(port),
  FUNKER_HOST: "127.0.0.1",
  FUNKER_LOG: "off",
  FUNKER_MODE: "fresh",
  ...extra,
});

/** Starts the add example as an image ships it, in `mode`, and waits until it takes calls (a probe connection, which a fresh replica shrugs off). */
async function startAdd(environment: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawnNode([funkerAddBundle], childEnvironment(environment));
  const probe = await connectWhenListening(port, 15_000, child);
  probe.destroy();
  return child;
}

/** A refusal: the replica was not idle (its processes were still starting), so the call did not run. */
class NotIdle extends Error {}

/** One framed call of add on a new connection, as a caller makes it; resolves with its latency in ms. */
async function callOnce(port: number): Promise<number> {
  const startedAt = performance.now();
  const socket = await connectWhenListening(port, 5_000);
  await framedAdd(socket);
  return performance.now() - startedAt;
}

async function framedAdd(socket: Socket): Promise<void> {
  const decoder = new FrameDecoder();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.on("data", (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) {
          if (isPreamble(frame)) continue;
          if (frame.type === "result" && new TextDecoder().decode(frame.body) === "3") resolve();
          else if (frame.type === "error" && frame.refused && frame.error.code === "unavailable") reject(new NotIdle());
          else reject(new Error(`unexpected reply ${JSON.stringify(frame)}`));
        }
      });
      socket.once("error", reject);
      socket.once("close", () => reject(new Error("closed without a reply")));
      socket.write(Buffer.concat([PREFACE, encodeCall({ id: "bench", function: "add", deadline: Date.now() + 30_000 }, { x: 1, y: 2 })]));
    });
  } finally {
    socket.destroy();
  }
}

/** Resident memory of a process and its children (a fresh replica's supervisor and processes), in MiB. */
async function treeResidentMiB(pid: number): Promise<number> {
  const pids = [pid];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) pids.push(Number(entry));
  }
  let total = 0;
  for (const each of pids) total += await residentBytes(each).catch(() => 0);
  return total / (1024 * 1024);
}

/** Long enough for a fresh replica to have a process waiting again after a call (a start is about 0.1 s). */
const IDLE_PAUSE_MS = 300;

/** Spawn of the single-shot add → its reply: the cost a fresh replica takes off the caller's path. */
async function singleShotSpawnToReply(): Promise<number> {
  const port = await freePort();
  const startedAt = performance.now();
  const child = spawnNode([funkerAddBundle], childEnvironment({ FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_LOG: "off", FUNKER_MODE: "single-shot" }));
  const exited = once(child, "exit");
  await framedAdd(await connectWhenListening(port, 15_000, child));
  const replyMs = performance.now() - startedAt;
  await exited;
  return replyMs;
}

/**
 * Calls on new connections, each after an idle pause: the replica's latency
 * when a caller finds it idle. On a busy machine a fresh replica's processes
 * may take longer than the pause (and its queue) to start: such a call is
 * refused without running, and made again after a longer pause.
 */
async function idleCalls(port: number, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let call = 0; call < count; call += 1) {
    for (let pause = IDLE_PAUSE_MS; ; pause *= 2) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      try {
        latencies.push(await callOnce(port));
        break;
      } catch (error) {
        if (!(error instanceof NotIdle) || pause > 10_000) throw error;
      }
    }
  }
  return latencies;
}

const idleLatency: Scenario = {
  name: "fresh-latency",
  title: "a call to an idle fresh replica (a process waits for it)",
  async run(settings) {
    const freshPort = await freePort();
    const reusePort = await freePort();
    const fresh = await startAdd(freshEnvironment(freshPort), freshPort);
    const reuse = await startAdd({ ...freshEnvironment(reusePort), FUNKER_MODE: "reuse" }, reusePort);
    const spawnToReply: number[] = [];
    const freshP50: number[] = [];
    const reuseP50: number[] = [];
    const freshMemory: number[] = [];
    const reuseMemory: number[] = [];
    try {
      await idleCalls(freshPort, 2);
      await singleShotSpawnToReply();
      for (let round = 0; round < settings.rounds; round += 1) {
        const cycles: number[] = [];
        for (let cycle = 0; cycle < settings.cyclesPerRound; cycle += 1) cycles.push(await singleShotSpawnToReply());
        spawnToReply.push(median(cycles));
        freshP50.push(median(await idleCalls(freshPort, settings.cyclesPerRound * 2)));
        reuseP50.push(median(await idleCalls(reusePort, settings.cyclesPerRound * 2)));
        // Idle: the last call's process has exited and its replacement waits.
        await new Promise((resolve) => setTimeout(resolve, IDLE_PAUSE_MS));
        freshMemory.push(await treeResidentMiB(fresh.pid as number));
        reuseMemory.push(await treeResidentMiB(reuse.pid as number));
      }
    } finally {
      await Promise.all([stop(fresh), stop(reuse)]);
    }
    return {
      rows: [
        row(this.title, "p50, connect → result", "ms", freshP50, "single-shot cycle: spawn → reply", spawnToReply, { op: "<=", value: 0.1 }),
        row(this.title, "p50, beside reuse mode", "ms", freshP50, "reuse mode, a call on a new connection", reuseP50),
        row("idle RSS of a fresh replica: its supervisor and waiting processes", "RSS", "MiB", freshMemory, "a reuse-mode replica", reuseMemory),
      ],
      notes: [
        `Each call opens a connection to a replica left idle for ${IDLE_PAUSE_MS} ms (so a fresh replica has a process waiting), as \`FramedCaller\` does: preface and CALL, then the RESULT.`,
      ],
    };
  },
};

/** Replicas of the local runtime, and callers in flight against them (one per replica). */
const DEV_REPLICAS = 4;

async function totalCpu(pids: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of pids) total += await cpuWithReapedChildren(pid);
  return total;
}

/** The CPU one call costs a fresh replica left alone: its process's start, the call, its exit, and the supervisor's share. */
async function cpuPerFreshCall(port: number, pid: number, calls: number): Promise<number> {
  await idleCalls(port, 1);
  // The process that served the warm-up call is reaped once its replacement waits.
  await new Promise((resolve) => setTimeout(resolve, IDLE_PAUSE_MS));
  const before = await cpuWithReapedChildren(pid);
  await idleCalls(port, calls);
  await new Promise((resolve) => setTimeout(resolve, IDLE_PAUSE_MS));
  return ((await cpuWithReapedChildren(pid)) - before) / calls;
}

/** CPU of `node -e 0`, Node's own start and exit: reaped by this process, so in its cutime. */
async function nodeEmptyCpu(): Promise<number> {
  const before = await cpuWithReapedChildren(process.pid);
  const child = spawnNode(["-e", "0"], childEnvironment());
  await once(child, "exit");
  return (await cpuWithReapedChildren(process.pid)) - before;
}

function failures(rounds: readonly RoundMeasurement[]): string {
  const failed = rounds.reduce((sum, round) => sum + round.errors, 0);
  const succeeded = rounds.reduce((sum, round) => sum + round.calls, 0);
  const first = rounds.find((round) => round.firstError !== undefined)?.firstError;
  return `${failed} of ${failed + succeeded} calls failed${first === undefined ? "" : `; the first: ${first}`}`;
}

const localRuntimeFresh: Scenario = {
  name: "fresh-dev",
  title: `local runtime (\`funker dev\`), fresh, ${DEV_REPLICAS} replicas`,
  async run(settings) {
    const cores = availableParallelism();
    const alonePort = await freePort();
    // One process at a time, so that each call's process starts and exits alone.
    const alone = await startAdd(freshEnvironment(alonePort, { FUNKER_CONCURRENCY: "1" }), alonePort);
    // The same with a heap limit: every process then starts with a V8 flag.
    const limitedPort = await freePort();
    const limited = await startAdd(freshEnvironment(limitedPort, { FUNKER_CONCURRENCY: "1", FUNKER_HEAP_LIMIT_MB: "512" }), limitedPort);
    let freshRuntime: DevRuntime | undefined;
    let singleShotRuntime: DevRuntime | undefined;
    let freshCaller: CallerProcess | undefined;
    let singleShotCaller: CallerProcess | undefined;
    const freshRounds: RoundMeasurement[] = [];
    const singleShotRounds: RoundMeasurement[] = [];
    const ceiling: number[] = [];
    const startCpu: number[] = [];
    const limitedCpu: number[] = [];
    const loadedCpu: number[] = [];
    const obtainedCpu: number[] = [];
    const allCores: number[] = [];
    const emptyCpu: number[] = [];
    const p99Goal: number[] = [];
    try {
      freshRuntime = await startDevRuntime("fresh", DEV_REPLICAS);
      singleShotRuntime = await startDevRuntime("single-shot", DEV_REPLICAS);
      freshCaller = new CallerProcess({ kind: "funker-kept", ports: freshRuntime.ports, concurrency: DEV_REPLICAS });
      singleShotCaller = new CallerProcess({ kind: "funker-kept", ports: singleShotRuntime.ports, concurrency: DEV_REPLICAS });
      await freshCaller.run(settings.warmupMs, DEV_REPLICAS);
      await singleShotCaller.run(settings.warmupMs, DEV_REPLICAS);
      for (let round = 0; round < settings.rounds; round += 1) {
        const perCall = await cpuPerFreshCall(alonePort, alone.pid as number, settings.cyclesPerRound);
        startCpu.push(perCall);
        ceiling.push((cores * 1_000) / perCall);
        limitedCpu.push(await cpuPerFreshCall(limitedPort, limited.pid as number, settings.cyclesPerRound));
        const empties: number[] = [];
        for (let cycle = 0; cycle < settings.cyclesPerRound; cycle += 1) empties.push(await nodeEmptyCpu());
        emptyCpu.push(median(empties));
        const cpuBefore = await totalCpu(freshRuntime.pids);
        // Failed calls are part of what this scenario reports, not a reason to stop it.
        const measured = await freshCaller.run(settings.roundMs, DEV_REPLICAS);
        const usedMs = (await totalCpu(freshRuntime.pids)) - cpuBefore;
        loadedCpu.push(usedMs / Math.max(1, measured.calls));
        obtainedCpu.push((usedMs * 1_000) / measured.elapsedMs);
        allCores.push(cores * 1_000);
        freshRounds.push(measured);
        p99Goal.push(300);
        singleShotRounds.push(await singleShotCaller.run(settings.roundMs, DEV_REPLICAS));
      }
    } catch (error) {
      const said = `${freshRuntime?.output().slice(-800) ?? ""}${singleShotRuntime?.output().slice(-800) ?? ""}`;
      throw new Error(`${error instanceof Error ? error.message : String(error)}; funker dev said: ${said}`);
    } finally {
      await Promise.all([freshCaller?.close(), singleShotCaller?.close()]);
      await Promise.all([freshRuntime?.stop(), singleShotRuntime?.stop(), stop(alone), stop(limited)]);
    }
    const callsPerSecond = (rounds: RoundMeasurement[]): number[] => rounds.map((round) => round.callsPerSecond);
    return {
      rows: [
        row(this.title, "sustained calls/s", "calls/s", callsPerSecond(freshRounds), `CPU ceiling: ${cores} cores × 1000 / CPU ms of one fresh call`, ceiling, { op: ">=", value: 0.75 }),
        row(this.title, "p99 latency", "ms", freshRounds.map((round) => round.p99Ms), "the goal, 300 ms", p99Goal, { op: "<=", value: 1 }),
        row(this.title, "p50 latency", "ms", freshRounds.map((round) => round.p50Ms), "—", undefined),
        row(this.title, "beside single-shot", "calls/s", callsPerSecond(freshRounds), `\`funker dev\`, single-shot, ${DEV_REPLICAS} replicas`, callsPerSecond(singleShotRounds)),
        row("CPU of one fresh call, replica alone (start, call, exit)", "CPU per call", "ms", startCpu, "`node -e 0`: start and exit", emptyCpu),
        row(this.title, "CPU per call under load", "ms", loadedCpu, "the same replica alone", startCpu),
        row("CPU of one fresh call with heapLimitMb: 512", "CPU per call", "ms", limitedCpu, "without a heap limit", startCpu),
        row(this.title, "CPU the replicas got, ms per second", "ms", obtainedCpu, `all ${cores} cores`, allCores),
      ],
      notes: [
        `fresh: ${failures(freshRounds)}; single-shot: ${failures(singleShotRounds)} (calls/s counts successful calls only). Single-shot p99: ${summarize(singleShotRounds.map((round) => round.p99Ms)).median.toFixed(0)} ms.`,
        `${DEV_REPLICAS} callers in flight through one Funker client with the endpoints \`funker dev\` gives; each replica keeps the default of 2 processes. The ceiling's CPU per call is measured each round on a fresh replica of add with one process, called ${settings.cyclesPerRound} times with ${IDLE_PAUSE_MS} ms pauses: the supervisor's and the reaped processes' CPU (/proc/<pid>/stat utime + stime + cutime + cstime) over the calls.`,
      ],
    };
  },
};

/**
 * Queue or refuse: what a caller that finds no process waiting should get.
 * The same four replicas' worth of add, once with the default queue (1 s)
 * and once with a queue of 1 ms, which refuses such a caller at once in all
 * but name, under four callers through one client (its replica picking:
 * fewest in flight, move on from a replica that refuses).
 */
const queueOrRefuse: Scenario = {
  name: "fresh-queue",
  title: `fresh, ${DEV_REPLICAS} replicas, ${DEV_REPLICAS} callers: a caller that finds no process waiting waits (1 s at most)`,
  async run(settings) {
    const start = async (queueTimeout: string): Promise<{ ports: number[]; children: ChildProcess[] }> => {
      const ports: number[] = [];
      const children: ChildProcess[] = [];
      for (let replica = 0; replica < DEV_REPLICAS; replica += 1) {
        const port = await freePort();
        ports.push(port);
        children.push(await startAdd(freshEnvironment(port, { FUNKER_QUEUE_TIMEOUT: queueTimeout }), port));
      }
      return { ports, children };
    };
    const queueing = await start("1s");
    const refusing = await start("1ms");
    const queueCaller = new CallerProcess({ kind: "funker-kept", ports: queueing.ports, concurrency: DEV_REPLICAS });
    const refuseCaller = new CallerProcess({ kind: "funker-kept", ports: refusing.ports, concurrency: DEV_REPLICAS });
    const queued: RoundMeasurement[] = [];
    const refused: RoundMeasurement[] = [];
    try {
      await refuseCaller.run(settings.warmupMs, DEV_REPLICAS);
      await queueCaller.run(settings.warmupMs, DEV_REPLICAS);
      for (let round = 0; round < settings.rounds; round += 1) {
        refused.push(await refuseCaller.run(settings.roundMs, DEV_REPLICAS));
        queued.push(await queueCaller.run(settings.roundMs, DEV_REPLICAS));
      }
    } finally {
      await Promise.all([queueCaller.close(), refuseCaller.close()]);
      await Promise.all([...queueing.children, ...refusing.children].map(stop));
    }
    return {
      rows: [
        row(this.title, "p99 latency", "ms", queued.map((round) => round.p99Ms), "refused at once (a queue of 1 ms)", refused.map((round) => round.p99Ms)),
        row(this.title, "p50 latency", "ms", queued.map((round) => round.p50Ms), "refused at once", refused.map((round) => round.p50Ms)),
        row(this.title, "calls/s", "calls/s", queued.map((round) => round.callsPerSecond), "refused at once", refused.map((round) => round.callsPerSecond)),
      ],
      notes: [`queued: ${failures(queued)}; refused at once: ${failures(refused)}.`],
    };
  },
};

export const freshScenarios: readonly Scenario[] = [idleLatency, localRuntimeFresh, queueOrRefuse];
