/** What the orchestrator and its caller processes say to each other over IPC. */

/**
 * How a caller calls: the raw baselines, the Funker client, HTTP/1.1 with a
 * keep-alive agent (the Functions Framework, bare `node:http`), and the RPC
 * peers' own clients.
 */
export type CallerKind =
  | "raw-per-call"
  | "raw-persistent"
  | "funker-per-call"
  | "funker-kept"
  | "funker-kept-signed"
  | "http-keep-alive"
  | "grpc"
  | "connect-h1"
  | "connect-h2";

/** The key of the signed-calls scenario: its caller and its replica both hold it. */
export const BENCH_SECRET = "a-benchmark-key-of-32-characters";

/** Given to a caller process at start (in `BENCH_CALLER`). */
export interface CallerSetup {
  kind: CallerKind;
  /** Ports on 127.0.0.1; loops are spread over them round-robin. */
  ports: number[];
  /** Loops calling at once, each one call at a time. */
  concurrency: number;
}

export interface RunCommand {
  type: "run";
  durationMs: number;
  concurrency: number;
}

/** One round of one caller. */
export interface RoundMeasurement {
  calls: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  callsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** User plus system CPU of the caller process per completed call, in µs. */
  cpuMicrosPerCall: number;
}
