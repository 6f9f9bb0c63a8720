import type { CallRecord } from "./connection.js";

/**
 * One JSON line per call on stderr, for `docker logs` and any log shipper.
 * Argument values, results, metadata and credentials are never logged: they
 * may hold personal data or secrets, and the call id is enough to correlate.
 */
export function logCall(record: CallRecord): void {
  const line: Record<string, unknown> = {
    level: record.error === undefined ? "info" : "error",
    msg: "call",
    id: record.id,
    function: record.functionName,
    protocol: record.protocol,
    durationMs: record.durationMs,
    outcome: record.error === undefined ? "ok" : "error",
  };
  if (record.error !== undefined) line["code"] = record.error.code;
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/** A line about the process itself (a start-up failure, an uncaught exception), never about a call's data. */
export function logProcess(level: "error" | "fatal", msg: string, error: unknown): void {
  const line: Record<string, unknown> = { level, msg };
  if (error instanceof Error) {
    line["name"] = error.name;
    line["message"] = error.message;
    line["stack"] = error.stack;
  } else {
    line["message"] = String(error);
  }
  process.stderr.write(`${JSON.stringify(line)}\n`);
}
