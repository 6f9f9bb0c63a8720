import { request } from "node:http";
import { FUNCTION_LABEL } from "./labels.js";

/** Where Docker's Engine API listens on a manager: the socket the autoscaler's container has mounted. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";
/** The Engine API version asked for: Docker 20.10's, the oldest engine Funker supports; newer engines answer it too. */
const API_VERSION = "v1.41";
/** A request to the engine on its own machine answers within milliseconds; a slower one means the engine is stuck. */
const ENGINE_TIMEOUT_MS = 10_000;
/** Service and task lists of a few hundred functions are well under this; a larger answer is refused, not buffered. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Why talking to the engine failed: `engine_unreachable` (no socket, a timeout), `engine_refused` (an HTTP error), `engine_bad_answer`. */
export class EngineError extends Error {
  override readonly name = "EngineError";
  constructor(
    readonly code: "engine_unreachable" | "engine_refused" | "engine_bad_answer",
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The part of a Swarm service the autoscaler reads and writes. */
export interface ServiceSummary {
  readonly id: string;
  readonly name: string;
  /** Spec.Labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** Replicas asked for; undefined for a global service, which the autoscaler leaves alone. */
  readonly replicas: number | undefined;
  /** The spec's version: an update names it, so a concurrent change fails instead of being overwritten. */
  readonly version: number;
  readonly spec: Record<string, unknown>;
}

/** A task that runs (or is about to) and the addresses it has on its networks. */
export interface TaskSummary {
  readonly id: string;
  /** Status.State: `running`, or an earlier state such as `starting`. */
  readonly state: string;
  /** IP addresses without their prefix length, one per network attachment other than the ingress network. */
  readonly addresses: readonly string[];
}

/**
 * A small client of the Docker Engine API over its unix socket, with
 * node:http: the four requests the autoscaler makes, each with a time
 * limit and a size limit on the answer.
 */
export class DockerEngine {
  constructor(private readonly socketPath: string = DEFAULT_DOCKER_SOCKET) {}

  /** Every service labelled as a Funker function (and with each of `labels`, written `key` or `key=value`). */
  async functionServices(labels: readonly string[] = []): Promise<ServiceSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [FUNCTION_LABEL, ...labels] }));
    const services = await this.request("GET", `/services?filters=${filters}`);
    if (!Array.isArray(services)) throw new EngineError("engine_bad_answer", "the service list is not a list");
    return services.map((service) => serviceSummary(service));
  }

  /** The tasks of a service that Swarm wants running. */
  async runningTasks(serviceId: string): Promise<TaskSummary[]> {
    const filters = encodeURIComponent(JSON.stringify({ service: [serviceId], "desired-state": ["running"] }));
    const tasks = await this.request("GET", `/tasks?filters=${filters}`);
    if (!Array.isArray(tasks)) throw new EngineError("engine_bad_answer", "the task list is not a list");
    return tasks.map((task) => taskSummary(task));
  }

  /** Sets a service's replica count, as of the spec version it was read at. */
  async scale(service: ServiceSummary, replicas: number): Promise<void> {
    const mode = record(service.spec["Mode"]);
    const spec = { ...service.spec, Mode: { ...mode, Replicated: { ...record(mode["Replicated"]), Replicas: replicas } } };
    await this.request("POST", `/services/${encodeURIComponent(service.id)}/update?version=${service.version}`, spec);
  }

  private request(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const outgoing = request(
        {
          socketPath: this.socketPath,
          method,
          path: `/${API_VERSION}${path}`,
          headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          timeout: ENGINE_TIMEOUT_MS,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              response.destroy();
              reject(new EngineError("engine_bad_answer", `the engine's answer to ${method} ${path} exceeds ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const status = response.statusCode ?? 0;
            if (status >= 300) {
              reject(new EngineError("engine_refused", `${method} ${path}: ${status} ${engineMessage(text)}`, status));
              return;
            }
            try {
              resolve(text === "" ? undefined : JSON.parse(text));
            } catch {
              reject(new EngineError("engine_bad_answer", `${method} ${path}: the answer is not JSON`));
            }
          });
        },
      );
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${ENGINE_TIMEOUT_MS} ms`)));
      outgoing.on("error", (error) => reject(new EngineError("engine_unreachable", `cannot reach the Docker engine at ${this.socketPath}: ${error.message}`)));
      outgoing.end(payload);
    });
  }
}

function engineMessage(text: string): string {
  try {
    const message = record(JSON.parse(text))["message"];
    if (typeof message === "string") return message.slice(0, 500);
  } catch {
    // Not the engine's JSON error: its text says enough.
  }
  return text.slice(0, 500);
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function serviceSummary(value: unknown): ServiceSummary {
  const service = record(value);
  const spec = record(service["Spec"]);
  const replicated = record(record(spec["Mode"])["Replicated"]);
  const id = service["ID"];
  const version = record(service["Version"])["Index"];
  if (typeof id !== "string" || typeof version !== "number") throw new EngineError("engine_bad_answer", "a service without ID or Version.Index");
  const labels: Record<string, string> = {};
  for (const [key, label] of Object.entries(record(spec["Labels"]))) if (typeof label === "string") labels[key] = label;
  const replicas = replicated["Replicas"];
  return { id, name: typeof spec["Name"] === "string" ? spec["Name"] : id, labels, replicas: typeof replicas === "number" ? replicas : undefined, version, spec };
}

function taskSummary(value: unknown): TaskSummary {
  const task = record(value);
  const addresses: string[] = [];
  for (const attachment of Array.isArray(task["NetworksAttachments"]) ? task["NetworksAttachments"] : []) {
    const network = record(record(attachment)["Network"]);
    if (record(network["Spec"])["Ingress"] === true) continue;
    const listed = record(attachment)["Addresses"];
    for (const address of Array.isArray(listed) ? listed : []) if (typeof address === "string") addresses.push(address.split("/")[0] ?? address);
  }
  const state = record(task["Status"])["State"];
  return { id: String(task["ID"]), state: typeof state === "string" ? state : "unknown", addresses };
}
