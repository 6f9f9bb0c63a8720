/**
 * The fuzz: cases from mutate.ts sent to a live replica. In reuse mode one
 * process takes every case and must be the same process at the end; in
 * single-shot mode each case gets its own process, which must exit 0 (the
 * handler's exit codes: 0 whenever a reply was delivered or the caller went
 * away; 70 is a fault). After each batch a valid call must still return the
 * right value, and in reuse mode the process's memory and descriptors are read.
 * Fresh mode is fuzzed as reuse mode is: its supervisor takes every case and
 * must be the same process at the end, and its memory and descriptors are
 * read; the processes it starts exit after each call by design.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { exchange, unref, validCall } from "./exchange.js";
import type { ExchangeLimits } from "./exchange.js";
import { judge } from "./judge.js";
import { MUTATIONS, warmUpCases } from "./mutate.js";
import type { FuzzCase, Mutation } from "./mutate.js";
import { FRESH_PROCESSES, isRunning, longLived, memoryAfterCollection, openDescriptors, residentKiB, startReplica } from "./replica.js";
import type { FuzzMode, MemoryReading, Replica } from "./replica.js";

export interface FuzzOptions {
  readonly mode: FuzzMode;
  /** Case `index` of the run, for index in [0, cases). */
  readonly caseAt: (index: number) => FuzzCase;
  readonly cases: number;
  /** The run's seed, reported with every failure so that it can be made again. */
  readonly seed: number;
  /** Stop after this long (after the warm-up) even if cases remain. */
  readonly durationMs?: number;
  /** Connections at once (reuse, fresh), or processes at once (single-shot). */
  readonly parallel?: number;
  /** Cases between two valid calls and readings. */
  readonly batch?: number;
  readonly limits?: ExchangeLimits;
  /** Reuse and fresh modes: send every JSON edge case in every place first, uncounted (default true; a replay of kept cases skips it). */
  readonly warmUp?: boolean;
  readonly onBatch?: (done: number, reading?: BatchReading) => void;
}

/** A reuse replica's readings after a batch: resident memory as it was, then everything after a full garbage collection. */
export interface BatchReading {
  readonly residentKiB: number;
  readonly afterCollection: MemoryReading;
  readonly descriptors: number;
}

export interface FailedCase {
  readonly index: number;
  readonly label: string;
  readonly problem: string;
  readonly hex: string;
  readonly halfClose: boolean;
  readonly chunks: readonly number[];
  readonly drip: boolean;
}

export interface FuzzReport {
  readonly mode: FuzzMode;
  readonly seed: number;
  readonly cases: number;
  readonly byMutation: Record<Mutation, number>;
  readonly halfClosed: number;
  /** Half-closed cases answered (a RESULT, an ERROR, a 2017 value or error object), by answer. */
  readonly answers: Record<string, number>;
  /** Replica processes that died (reuse; in fresh mode, the supervisor) or exited with another code than 0 (single-shot). */
  readonly deaths: number;
  /** Reuse and fresh: the replicas that served the run (1 when none died); single-shot: the processes started. */
  readonly processes: number;
  /** Reuse and fresh (the supervisor): resident memory after a full garbage collection, and its highest reading without one. */
  readonly memory?: Flatness;
  /** Reuse and fresh (the supervisor): the JavaScript heap in use after a full garbage collection. */
  readonly heap?: Flatness;
  readonly descriptors?: Flatness;
  readonly validCalls: { readonly made: number; readonly right: number };
  readonly failures: readonly FailedCase[];
  readonly seconds: number;
  readonly casesPerSecond: number;
}

/** Readings after each batch, early in the run and late in it, and the bound their difference must stay within. */
export interface Flatness {
  readonly early: number;
  readonly late: number;
  readonly highest: number;
  readonly bound: number;
}

/**
 * Flat, for memory, means that the floor does not rise: the lowest reading
 * of the last quarter of the batches is at most the bound above the lowest
 * of the first quarter (after a warm-up of every JSON edge case in every
 * place). Each reading follows a full garbage collection in the replica, so
 * garbage not yet collected is not counted. Two readings are held:
 *
 * - the JavaScript heap in use, which is what a kept per-connection
 *   structure, a growing pool or list would raise: within 8 MiB (80 bytes a
 *   case over 100,000 cases);
 * - resident memory, which also counts what V8 and the C allocator keep
 *   committed after freeing it: over a run of 20,000 cases it swings by
 *   about 50 MiB from batch to batch (V8 returns committed heap pages lazily:
 *   the heap in use stays near 5 MiB while the heap committed goes between 9
 *   and 41 MiB), so its bound, 32 MiB, is for native memory that piles up.
 *
 * Descriptors do not swing: every connection is closed when they are read,
 * so the highest count after the first batch is held to the first.
 */
export const RSS_BOUND_KIB = 32 * 1024;
export const HEAP_BOUND_KIB = 8 * 1024;
export const DESCRIPTOR_BOUND = 2;
/**
 * A fresh-mode supervisor holds two descriptors for each of its processes
 * (the call pipe and the message channel), and a reading may find any of
 * them between the exit of one process and the start of the next.
 */
export const FRESH_DESCRIPTOR_BOUND = DESCRIPTOR_BOUND + 2 * FRESH_PROCESSES;

/**
 * A reply may wait behind other cases: a reuse replica runs one event loop,
 * and a body nested 200,000 deep takes V8 a second or more to parse on a
 * busy machine, for each of the cases in flight.
 */
const DEFAULT_LIMITS: ExchangeLimits = { replyTimeoutMs: 30_000, settleMs: 20 };

export function heldUp(report: FuzzReport): boolean {
  const flat = (reading: Flatness | undefined): boolean => reading === undefined || reading.late - reading.early <= reading.bound;
  return report.failures.length === 0 && report.deaths === 0 && report.validCalls.right === report.validCalls.made && flat(report.memory) && flat(report.heap) && flat(report.descriptors);
}

/**
 * Connections (reuse, fresh) or processes (single-shot) at once. A fresh
 * replica keeps `FRESH_PROCESSES` processes started. A single-shot case
 * costs a process's start (tens of milliseconds of CPU on an idle core) and
 * then mostly waits (its exchange, the process's exit): six at once keep
 * two cores busy.
 */
const PARALLEL: Record<FuzzMode, number> = { reuse: 8, "single-shot": 6, fresh: FRESH_PROCESSES };
const BATCH: Record<FuzzMode, number> = { reuse: 500, "single-shot": 40, fresh: 200 };

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const limits = options.limits ?? DEFAULT_LIMITS;
  const parallel = options.parallel ?? PARALLEL[options.mode];
  const batch = options.batch ?? BATCH[options.mode];
  const serving = longLived(options.mode);
  const byMutation = Object.fromEntries(MUTATIONS.map((mutation) => [mutation, 0])) as Record<Mutation, number>;
  const answers: Record<string, number> = {};
  const failures: FailedCase[] = [];
  const memory: number[] = [];
  const heap: number[] = [];
  const descriptors: number[] = [];
  const validCalls = { made: 0, right: 0 };
  let halfClosed = 0;
  let deaths = 0;
  let processes = 0;
  let done = 0;
  let highestResident = 0;

  const fail = (index: number, testCase: FuzzCase, problem: string): void => {
    failures.push({ index, label: testCase.label, problem, hex: Buffer.from(testCase.bytes).toString("hex"), halfClose: testCase.halfClose, chunks: testCase.chunks, drip: testCase.drip });
  };
  const count = (testCase: FuzzCase): void => {
    for (const mutation of testCase.mutations) byMutation[mutation] += 1;
    if (testCase.halfClose) halfClosed += 1;
  };
  const tally = (answer: string): void => {
    answers[answer] = (answers[answer] ?? 0) + 1;
  };

  // Reuse and fresh: one replica for the run, replaced only if it dies (a failure of every case in flight then).
  let replica: Replica | undefined;
  const inFlight = new Map<number, FuzzCase>();
  const startReuseReplica = async (): Promise<Replica> => {
    const started = await startReplica(options.mode);
    processes += 1;
    if (options.mode === "fresh") await firstProcessWaiting(started, limits);
    void started.exited.then((exit) => {
      if (replica !== started) return;
      deaths += 1;
      for (const [index, testCase] of inFlight) fail(index, testCase, `the replica died (${exit.code ?? exit.signal}) with this case in flight: ${started.stderrTail().slice(-500)}`);
    });
    return started;
  };
  if (serving) replica = await startReuseReplica();

  const runReuseCase = async (index: number, testCase: FuzzCase): Promise<void> => {
    if (replica === undefined || !isRunning(replica)) replica = await startReuseReplica();
    inFlight.set(index, testCase);
    const outcome = await exchange(replica.port, testCase, limits);
    inFlight.delete(index);
    const verdict = judge(testCase.bytes, testCase.halfClose, outcome);
    if (verdict.ok) tally(verdict.answer);
    else if (isRunning(replica)) fail(index, testCase, verdict.problem);
  };

  const runSingleShotCase = async (index: number, testCase: FuzzCase): Promise<void> => {
    const own = await startReplica("single-shot");
    processes += 1;
    const outcome = await exchange(own.port, testCase, limits);
    const exit = await Promise.race([own.exited, sleep(limits.replyTimeoutMs, undefined, unref)]);
    if (exit === undefined) {
      own.process.kill("SIGKILL");
      await own.exited;
      fail(index, testCase, "the single-shot replica did not exit after its one connection ended");
      return;
    }
    if (exit.code !== 0) {
      deaths += 1;
      fail(index, testCase, `the single-shot replica exited ${exit.code ?? exit.signal}, not 0: ${own.stderrTail().slice(-500)}`);
      return;
    }
    const verdict = judge(testCase.bytes, testCase.halfClose, outcome);
    if (verdict.ok) tally(verdict.answer);
    else fail(index, testCase, verdict.problem);
  };

  const checkValid = async (batchNumber: number): Promise<void> => {
    const wires = serving ? (["framed", "legacy"] as const) : ([batchNumber % 2 === 0 ? "framed" : "legacy"] as const);
    for (const wire of wires) {
      validCalls.made += 1;
      let target = replica;
      if (options.mode === "single-shot") {
        target = await startReplica("single-shot");
        processes += 1;
      } else if (target === undefined || !isRunning(target)) {
        continue;
      }
      const answer = await validCall(target.port, wire, limits);
      let exitProblem = "";
      if (options.mode === "single-shot") {
        const exit = await target.exited;
        if (exit.code !== 0) exitProblem = `, and the replica exited ${exit.code ?? exit.signal}`;
      }
      if (answer === "3" && exitProblem === "") validCalls.right += 1;
      else failures.push({ index: -1, label: `a valid ${wire} call after batch ${batchNumber}`, problem: `got ${answer}${exitProblem}`, hex: "", halfClose: wire === "legacy", chunks: [], drip: false });
    }
  };

  const runBatch = async (caseAt: (index: number) => FuzzCase, from: number, to: number, counted: boolean): Promise<void> => {
    let next = from;
    const worker = async (): Promise<void> => {
      while (next < to) {
        const index = next;
        next += 1;
        const testCase = caseAt(index);
        if (counted) count(testCase);
        await (serving ? runReuseCase(index, testCase) : runSingleShotCase(index, testCase));
        if (counted) done += 1;
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  };
  const read = async (): Promise<BatchReading | undefined> => {
    if (replica === undefined || !isRunning(replica)) return undefined;
    // The server's side of the last connections closes a moment after the caller's.
    await sleep(20);
    const resident = residentKiB(replica.pid);
    const afterCollection = await memoryAfterCollection(replica);
    const reading = { residentKiB: resident, afterCollection, descriptors: openDescriptors(replica.pid) };
    memory.push(Math.round(afterCollection.rss / 1024));
    heap.push(Math.round(afterCollection.heapUsed / 1024));
    highestResident = Math.max(highestResident, resident);
    descriptors.push(reading.descriptors);
    return reading;
  };

  if (serving && options.warmUp !== false) {
    const warmUp = warmUpCases();
    await runBatch((index) => warmUp[index] as FuzzCase, 0, warmUp.length, false);
    await read();
  }
  // The time allowed is for the counted cases: the warm-up's length depends on the machine.
  const deadline = options.durationMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.durationMs;
  for (let batchStart = 0, batchNumber = 0; batchStart < options.cases && Date.now() < deadline; batchStart += batch, batchNumber += 1) {
    await runBatch(options.caseAt, batchStart, Math.min(options.cases, batchStart + batch), true);
    await checkValid(batchNumber);
    options.onBatch?.(done, await read());
  }
  if (replica !== undefined) {
    const last = replica;
    replica = undefined;
    if (isRunning(last)) {
      last.process.kill("SIGTERM");
      const exit = await Promise.race([last.exited, sleep(5_000, undefined, unref)]);
      if (exit === undefined) last.process.kill("SIGKILL");
    }
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    mode: options.mode,
    seed: options.seed,
    cases: done,
    byMutation,
    halfClosed,
    answers,
    deaths,
    processes,
    ...(memory.length > 0 ? { memory: floorFlatness(memory, highestResident, RSS_BOUND_KIB), heap: floorFlatness(heap, Math.max(...heap), HEAP_BOUND_KIB) } : {}),
    ...(descriptors.length > 0 ? { descriptors: descriptorFlatness(descriptors, options.mode === "fresh" ? FRESH_DESCRIPTOR_BOUND : DESCRIPTOR_BOUND) } : {}),
    validCalls,
    failures,
    seconds: Math.round(seconds * 10) / 10,
    casesPerSecond: Math.round(done / seconds),
  };
}

/**
 * A fresh-mode supervisor listens before its first process has started, and
 * resets every caller until one waits (as a replica that does not listen
 * yet): the run starts once a valid call is answered.
 */
async function firstProcessWaiting(replica: Replica, limits: ExchangeLimits): Promise<void> {
  const givingUpAt = Date.now() + limits.replyTimeoutMs;
  let answer = await validCall(replica.port, "legacy", limits);
  while (answer !== "3" && isRunning(replica) && Date.now() < givingUpAt) {
    await sleep(50);
    answer = await validCall(replica.port, "legacy", limits);
  }
  if (answer !== "3") throw new Error(`the fresh-mode replica did not serve a first call: ${answer}; ${replica.stderrTail().slice(-500)}`);
}

function floorFlatness(readings: readonly number[], highest: number, bound: number): Flatness {
  const quarter = Math.max(1, Math.floor(readings.length / 4));
  return { early: Math.min(...readings.slice(0, quarter)), late: Math.min(...readings.slice(-quarter)), highest, bound };
}

function descriptorFlatness(readings: readonly number[], bound: number): Flatness {
  const first = readings[0] ?? 0;
  const highest = Math.max(...readings);
  return { early: first, late: highest, highest, bound };
}
