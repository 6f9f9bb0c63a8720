import { withLastDecision } from "./last-decision.js";
import { request } from "node:http";
import { decide, EMPTY_MEMORY } from "./decide.js";
import type { DecisionMemory, ReplicaObservation } from "./decide.js";
import { DockerEngine } from "./engine.js";
import type { ServiceSummary, TaskSummary } from "./engine.js";
import { FUNCTION_LABEL, readScaleBounds, ScaleLabelError, STATUS_PORT } from "./labels.js";

/** How often each function is looked at: a replica starts in about a second on Swarm, so a faster tick sees nothing new. */
export const DEFAULT_INTERVAL_MS = 1_000;
/** A replica's status port answers from memory at once; one that takes longer counts as starting this tick. */
const STATUS_TIMEOUT_MS = 1_000;
/** A status answer is about 200 bytes. */
const MAX_STATUS_BYTES = 64 * 1024;

/** Where the autoscaler's lines go: one object per line, JSON on stdout by default. */
export type AutoscalerLog = (line: Record<string, unknown>) => void;

export interface AutoscalerOptions {
  readonly engine?: DockerEngine;
  /** Milliseconds between ticks (default 1 s). */
  readonly intervalMs?: number;
  /** The replicas' status port (default 9998, which `funker deploy` sets). */
  readonly statusPort?: number;
  /** Manage only the functions that also carry these labels (`key` or `key=value`), such as one stack's `io.funker.stack=shop`. */
  readonly labels?: readonly string[];
  readonly log?: AutoscalerLog;
}

/** What the autoscaler remembers of one service between ticks. */
interface ServiceMemory {
  decision: DecisionMemory;
  /** Each task's `refused` total at the previous tick. */
  refused: Map<string, number>;
  /** The label problem already logged, so that a wrong label is reported once, not every tick. */
  labelProblem: string | undefined;
}

/**
 * The service loop: each tick, for every Swarm service labelled as a Funker
 * function with scale labels, it reads each running task's `/status`,
 * decides (`decide`), and sets the replica count when it changes, with one
 * log line per change. A service whose labels are wrong is logged once and
 * left alone; a failure to reach one service's replicas or to update it is
 * logged and tried again at the next tick.
 */
export class Autoscaler {
  private readonly engine: DockerEngine;
  private readonly intervalMs: number;
  private readonly statusPort: number;
  private readonly log: AutoscalerLog;
  private readonly labels: readonly string[];
  private readonly memory = new Map<string, ServiceMemory>();

  constructor(options: AutoscalerOptions = {}) {
    this.engine = options.engine ?? new DockerEngine();
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.statusPort = options.statusPort ?? STATUS_PORT;
    this.labels = options.labels ?? [];
    this.log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  }

  /** Ticks until `signal` aborts; a tick that fails (the engine unreachable) is logged, and the next one tries again. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.tick();
      } catch (error) {
        this.log({ level: "error", msg: "tick failed", message: error instanceof Error ? error.message : String(error) });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.intervalMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  /** One look at every function. */
  async tick(): Promise<void> {
    const services = await this.engine.functionServices(this.labels);
    const seen = new Set<string>();
    await Promise.all(
      services.map(async (service) => {
        seen.add(service.id);
        try {
          await this.tickService(service);
        } catch (error) {
          this.log({ level: "error", msg: "service skipped this tick", service: service.name, message: error instanceof Error ? error.message : String(error) });
        }
      }),
    );
    for (const id of this.memory.keys()) if (!seen.has(id)) this.memory.delete(id);
  }

  private async tickService(service: ServiceSummary): Promise<void> {
    const memory = this.memoryOf(service.id);
    let bounds;
    try {
      bounds = readScaleBounds(service.labels);
    } catch (error) {
      if (!(error instanceof ScaleLabelError)) throw error;
      if (memory.labelProblem !== error.message) {
        memory.labelProblem = error.message;
        this.log({ level: "error", msg: "bad scale labels; service left alone", service: service.name, code: error.code, problem: error.message });
      }
      return;
    }
    memory.labelProblem = undefined;
    if (bounds === undefined || service.replicas === undefined) return;

    const tasks = await this.engine.runningTasks(service.id);
    const replicas = await Promise.all(tasks.map((task) => this.observe(task, memory)));
    const decision = decide(bounds, { desired: service.replicas, replicas }, memory.decision, Date.now());
    memory.decision = decision.memory;
    if (decision.to === decision.from) return;
    await this.engine.scale(withLastDecision(service, decision, Date.now()), decision.to);
    this.log({
      level: "info",
      msg: "scaled",
      function: service.labels[FUNCTION_LABEL],
      service: service.name,
      free: decision.free,
      busy: decision.busy,
      starting: decision.starting,
      refused: decision.refused,
      from: decision.from,
      to: decision.to,
      reason: decision.reason,
    });
  }

  private memoryOf(serviceId: string): ServiceMemory {
    let memory = this.memory.get(serviceId);
    if (memory === undefined) {
      memory = { decision: EMPTY_MEMORY, refused: new Map(), labelProblem: undefined };
      this.memory.set(serviceId, memory);
    }
    return memory;
  }

  /** A task's status: starting when it does not run yet or does not answer. */
  private async observe(task: TaskSummary, memory: ServiceMemory): Promise<ReplicaObservation> {
    const address = task.addresses[0];
    if (task.state !== "running" || address === undefined) return { state: "starting" };
    const status = await readStatus(address, this.statusPort);
    if (status === undefined || status.starting) return { state: "starting" };
    const previous = memory.refused.get(task.id);
    memory.refused.set(task.id, status.refused);
    // A task first seen counts its refusals only when it is young: after a restart of the autoscaler, an old task's
    // whole history is not this tick's demand.
    const refused = previous !== undefined ? Math.max(0, status.refused - previous) : status.uptimeMs < 2 * this.intervalMs ? status.refused : 0;
    if (status.stopping) return { state: "stopping", inFlight: status.inFlight, refused };
    return { state: "ready", capacity: status.capacity, free: status.free, inFlight: status.inFlight, refused };
  }
}

interface StatusAnswer {
  readonly starting: boolean;
  readonly stopping: boolean;
  readonly inFlight: number;
  readonly capacity: number;
  readonly free: number;
  readonly refused: number;
  readonly uptimeMs: number;
}

/** GET /status of a replica; undefined when it does not answer in time or answers something else. */
export function readStatus(host: string, port: number): Promise<StatusAnswer | undefined> {
  return new Promise((resolve) => {
    const outgoing = request({ host, port, path: "/status", timeout: STATUS_TIMEOUT_MS, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_STATUS_BYTES) response.destroy();
        else chunks.push(chunk);
      });
      response.on("error", () => resolve(undefined));
      response.on("end", () => {
        if (response.statusCode !== 200) return resolve(undefined);
        try {
          resolve(statusAnswer(JSON.parse(Buffer.concat(chunks).toString("utf8"))));
        } catch {
          resolve(undefined);
        }
      });
    });
    outgoing.on("timeout", () => outgoing.destroy());
    outgoing.on("error", () => resolve(undefined));
    outgoing.end();
  });
}

function statusAnswer(value: unknown): StatusAnswer | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const status = value as Record<string, unknown>;
  const count = (key: string): number | undefined => {
    const number = status[key];
    return typeof number === "number" && Number.isInteger(number) && number >= 0 ? number : undefined;
  };
  const [inFlight, capacity, free, refused, uptimeMs] = [count("inFlight"), count("capacity"), count("free"), count("refused"), count("uptimeMs")];
  if (inFlight === undefined || capacity === undefined || free === undefined || refused === undefined || uptimeMs === undefined) return undefined;
  return { starting: status["starting"] === true, stopping: status["stopping"] === true, inFlight, capacity, free, refused, uptimeMs };
}
