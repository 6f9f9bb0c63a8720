import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import type { HandlerMode } from "./contract.js";
import { ExitCode } from "./contract.js";
import type { CallRecord } from "./call-record.js";
import { logProcess } from "./log.js";
import type { ResolvedOptions } from "./options.js";

/**
 * What a replica tells an autoscaler or a scraper on its status port, read
 * without taking a call slot: a request there is never a call.
 */
export interface ReplicaStatus {
  readonly mode: HandlerMode;
  /** Not yet taking calls: still binding its port, or (fresh mode) no process has started yet. */
  readonly starting: boolean;
  /** Taking no more calls: told to stop, its single call taken, or `maxCalls` reached. */
  readonly stopping: boolean;
  /** Calls running now. */
  readonly inFlight: number;
  /** Calls it can run at once: 1 in single-shot mode, `concurrency` in reuse mode, the processes kept in fresh mode. */
  readonly capacity: number;
  /** Calls it would take now without refusing one: free slots, or (fresh mode) processes waiting. */
  readonly free: number;
  /** Calls that ran to a reply, since start. */
  readonly callsServed: number;
  /** Callers refused with `unavailable` because no slot was free, since start: demand the replica could not take. */
  readonly refused: number;
  /** Milliseconds since the process started. */
  readonly uptimeMs: number;
}

/** What the server or the supervisor knows of itself; the status port adds the rest. */
export type StatusFacts = Omit<ReplicaStatus, "mode" | "starting" | "refused" | "uptimeMs">;

/**
 * Upper bounds of the call duration histogram, in seconds: from a cached
 * answer (5 ms) to the default timeout (60 s), about three to a decade.
 */
const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/** The status port's HTTP limits: its requests are a line and a few headers, from an autoscaler or a scraper on the same network. */
const REQUEST_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8_192;
const MAX_CONNECTIONS = 32;

/** Counters of the calls a replica answered, for `/metrics`. */
export class CallMetrics {
  /** Keyed by outcome and error code; the codes are the protocol's closed set, so the keys stay few. */
  private readonly answered = new Map<string, number>();
  private readonly bucketCounts: number[] = DURATION_BUCKETS_SECONDS.map(() => 0);
  private count = 0;
  private sumSeconds = 0;

  observe(durationMs: number, errorCode: string | undefined): void {
    const key = errorCode === undefined ? 'outcome="ok"' : `outcome="error",code="${errorCode.replace(/[^a-z_]/g, "")}"`;
    this.answered.set(key, (this.answered.get(key) ?? 0) + 1);
    const seconds = Math.max(0, durationMs) / 1000;
    DURATION_BUCKETS_SECONDS.forEach((bound, index) => {
      if (seconds <= bound) this.bucketCounts[index] = (this.bucketCounts[index] ?? 0) + 1;
    });
    this.count += 1;
    this.sumSeconds += seconds;
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  render(status: ReplicaStatus): string {
    const lines = [
      "# HELP funker_calls_total Calls answered by this replica, by outcome and error code.",
      "# TYPE funker_calls_total counter",
      ...[...this.answered].map(([labels, value]) => `funker_calls_total{${labels}} ${value}`),
      "# HELP funker_call_duration_seconds Time from accepting a call to its reply.",
      "# TYPE funker_call_duration_seconds histogram",
      ...DURATION_BUCKETS_SECONDS.map((bound, index) => `funker_call_duration_seconds_bucket{le="${bound}"} ${this.bucketCounts[index] ?? 0}`),
      `funker_call_duration_seconds_bucket{le="+Inf"} ${this.count}`,
      `funker_call_duration_seconds_sum ${this.sumSeconds}`,
      `funker_call_duration_seconds_count ${this.count}`,
      "# HELP funker_calls_in_flight Calls running now.",
      "# TYPE funker_calls_in_flight gauge",
      `funker_calls_in_flight ${status.inFlight}`,
      "# HELP funker_capacity Calls this replica can run at once.",
      "# TYPE funker_capacity gauge",
      `funker_capacity ${status.capacity}`,
      "# HELP funker_free Calls this replica would take now.",
      "# TYPE funker_free gauge",
      `funker_free ${status.free}`,
    ];
    return `${lines.join("\n")}\n`;
  }
}

/**
 * The status port (`statusPort`): `/healthz`, `/status` and `/metrics` over
 * HTTP, beside the call port and apart from it, so that reading a replica's
 * state never takes the slot a call needs. Off by default: node:http is
 * loaded only when it is on, so a single-shot replica started per call pays
 * nothing for it.
 */
export class StatusPort {
  readonly metrics = new CallMetrics();
  private server: HttpServer | undefined;
  private started = false;
  private refused = 0;
  private closed = false;

  /** Undefined when the status port is off; `ready` is the call port's (or the first fresh process's) readiness. */
  static open(options: ResolvedOptions, ready: Promise<unknown>, facts: () => StatusFacts): StatusPort | undefined {
    return options.statusPort === 0 ? undefined : new StatusPort(options, ready, facts);
  }

  private constructor(
    private readonly options: ResolvedOptions,
    ready: Promise<unknown>,
    private readonly facts: () => StatusFacts,
  ) {
    ready.then(
      () => (this.started = true),
      () => undefined,
    );
    void this.listen();
  }

  record(record: CallRecord): void {
    if (!record.served && record.error?.code === "unavailable") this.refused += 1;
    this.metrics.observe(record.durationMs, record.error?.code);
  }

  status(): ReplicaStatus {
    const facts = this.facts();
    const starting = !this.started && !facts.stopping;
    return { mode: this.options.mode, starting, ...facts, free: starting ? 0 : facts.free, refused: this.refused, uptimeMs: Math.round(process.uptime() * 1000) };
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    this.server?.closeAllConnections();
  }

  private async listen(): Promise<void> {
    const { createServer } = await import("node:http");
    if (this.closed) return;
    const server = createServer(
      { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS, maxHeaderSize: MAX_HEADER_BYTES, keepAliveTimeout: REQUEST_TIMEOUT_MS },
      (request, response) => this.answer(request, response),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.on("error", (error) => {
      logProcess("fatal", `cannot listen on the status port ${this.options.host}:${this.options.statusPort}`, error, this.options.log);
      // A replica whose status port is taken would look forever starting to its autoscaler: it fails as for its call port.
      if (this.options.exit) process.exit(ExitCode.startupFailed);
    });
    // Neither a scraper's kept connection nor the port itself keeps a finished replica's process alive.
    server.unref();
    server.listen(this.options.statusPort, this.options.host);
    this.server = server;
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    if (request.method !== "GET" && request.method !== "HEAD") {
      send(response, 405, "text/plain; charset=utf-8", "only GET and HEAD\n", { allow: "GET, HEAD" });
      return;
    }
    const path = (request.url ?? "/").split("?")[0];
    const status = this.status();
    switch (path) {
      case "/healthz": {
        // 200 only while the replica takes calls: a starting or stopping one is no place to send them.
        const healthy = !status.starting && !status.stopping;
        send(response, healthy ? 200 : 503, "text/plain; charset=utf-8", healthy ? "ok\n" : status.starting ? "starting\n" : "stopping\n");
        return;
      }
      case "/status":
        send(response, 200, "application/json", `${JSON.stringify(status)}\n`);
        return;
      case "/metrics":
        send(response, 200, "text/plain; version=0.0.4; charset=utf-8", this.metrics.render(status));
        return;
      default:
        send(response, 404, "text/plain; charset=utf-8", "not found: /healthz, /status or /metrics\n");
    }
  }
}

function send(response: ServerResponse, code: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(code, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body), ...headers });
  response.end(response.req.method === "HEAD" ? undefined : body);
}
