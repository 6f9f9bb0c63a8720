import { createServer, request } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { withLastDecision } from "./last-decision.js";
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
/**
 * The autoscaler's wake port: `POST /wake/<function>` starts one replica of a
 * function at zero (the autoscaler README, *The wake port*). Beside the
 * replicas' status port 9998 and call port 9999.
 */
export const WAKE_PORT = 9997;
/** What a function's name may be on the wake port: as on the wire, and never a path trick. */
const WAKE_PATH = /^\/wake\/([A-Za-z0-9][A-Za-z0-9_.-]{0,254})$/;

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
  /** Where `run` answers wake requests (default 9997, `WAKE_PORT`); `false`: nowhere, so functions at zero stay there. */
  readonly wakePort?: number | false;
  /** The wake port's address (default all of them: `::`, or 0.0.0.0 without IPv6). */
  readonly wakeHost?: string;
}

/** The wake port's answer: whether the function exists here, and what was done. */
export interface WakeAnswer {
  /** 202: one replica asked for (it was at zero); 200: it has replicas, or is not scaled to zero; 404: no such function. */
  readonly status: 200 | 202 | 404;
  readonly body: Record<string, unknown>;
}

/** What the autoscaler remembers of one service between ticks. */
interface ServiceMemory {
  decision: DecisionMemory;
  /** Each task's `refused` and `callsServed` totals at the previous tick. */
  refused: Map<string, number>;
  served: Map<string, number>;
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
  private readonly wakePort: number | false;
  private readonly wakeHost: string | undefined;
  /** Wakes under way per function, so that concurrent callers make one update, not conflicting ones. */
  private readonly waking = new Map<string, Promise<WakeAnswer>>();

  constructor(options: AutoscalerOptions = {}) {
    this.engine = options.engine ?? new DockerEngine();
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.statusPort = options.statusPort ?? STATUS_PORT;
    this.labels = options.labels ?? [];
    this.log = options.log ?? ((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
    this.wakePort = options.wakePort ?? WAKE_PORT;
    this.wakeHost = options.wakeHost;
  }

  /**
   * Answers the wake port and ticks until `signal` aborts; a tick that fails
   * (the engine unreachable) is logged, and the next one tries again.
   */
  async run(signal: AbortSignal): Promise<void> {
    const server = this.wakePort === false ? undefined : await this.listen(this.wakePort);
    try {
      await this.loop(signal);
    } finally {
      await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
      server?.closeAllConnections();
    }
  }

  /**
   * Wakes a function at zero: when a service of the function `name` (among
   * the managed ones) asks for 0 replicas and its `min` is 0, asks for one.
   * Concurrent wakes of one function share one update.
   */
  wake(name: string): Promise<WakeAnswer> {
    let pending = this.waking.get(name);
    if (pending === undefined) {
      pending = this.wakeNow(name).finally(() => this.waking.delete(name));
      this.waking.set(name, pending);
    }
    return pending;
  }

  private async wakeNow(name: string): Promise<WakeAnswer> {
    const services = await this.engine.functionServices([...this.labels, `${FUNCTION_LABEL}=${name}`]);
    const service = services[0];
    if (service === undefined) return { status: 404, body: { function: name, error: "not_found", message: `no function "${name}" is managed here` } };
    let bounds;
    try {
      bounds = readScaleBounds(service.labels);
    } catch {
      // Wrong labels: the service is left alone (the tick logs why).
    }
    const known = { function: name, service: service.name, replicas: service.replicas };
    if (service.replicas !== 0 || bounds?.min !== 0) return { status: 200, body: { ...known, woken: false } };
    await this.engine.scale(service, 1);
    this.log({ level: "info", msg: "woke", function: name, service: service.name, from: 0, to: 1 });
    return { status: 202, body: { ...known, replicas: 1, woken: true } };
  }

  private listen(port: number): Promise<Server> {
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (incoming, response) => void this.answer(incoming, response));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.wakeHost, () => {
        server.off("error", reject);
        resolve(server);
      });
    });
  }

  private async answer(incoming: IncomingMessage, response: ServerResponse): Promise<void> {
    // The body is not read: a wake says everything in its path.
    incoming.resume();
    const send = (status: number, body: Record<string, unknown>): void => {
      response.writeHead(status, { "content-type": "application/json", connection: "close" }).end(`${JSON.stringify(body)}\n`);
    };
    const name = WAKE_PATH.exec(incoming.url ?? "")?.[1];
    if (incoming.method !== "POST" || name === undefined) {
      send(incoming.method === "POST" ? 400 : 405, { error: "bad_request", message: "expected POST /wake/<function>" });
      return;
    }
    try {
      const answer = await this.wake(name);
      send(answer.status, answer.body);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log({ level: "error", msg: "wake failed", function: name, message });
      send(503, { function: name, error: "unavailable", message });
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
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
      memory = { decision: EMPTY_MEMORY, refused: new Map(), served: new Map(), labelProblem: undefined };
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
    // A task first seen counts its totals only when it is young: after a restart of the autoscaler, an old task's
    // whole history is not this tick's demand.
    const young = status.uptimeMs < 2 * this.intervalMs;
    const sinceLastTick = (totals: Map<string, number>, total: number): number => {
      const previous = totals.get(task.id);
      totals.set(task.id, total);
      return previous !== undefined ? Math.max(0, total - previous) : young ? total : 0;
    };
    const refused = sinceLastTick(memory.refused, status.refused);
    const served = sinceLastTick(memory.served, status.callsServed);
    if (status.stopping) return { state: "stopping", inFlight: status.inFlight, refused, served };
    return { state: "ready", capacity: status.capacity, free: status.free, inFlight: status.inFlight, refused, served };
  }
}

interface StatusAnswer {
  readonly starting: boolean;
  readonly stopping: boolean;
  readonly inFlight: number;
  readonly capacity: number;
  readonly free: number;
  readonly refused: number;
  readonly callsServed: number;
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
  // A handler older than the count reports none: its calls then show only while they run.
  const callsServed = count("callsServed") ?? 0;
  return { starting: status["starting"] === true, stopping: status["stopping"] === true, inFlight, capacity, free, refused, callsServed, uptimeMs };
}
