import type { CallRecord } from "./call-record.js";
import { callLogLine } from "./contract.js";
import type { ProcessLogLine } from "./contract.js";

/** Where log lines go: a function receiving each line as an object (to route them to an application's logger). */
export type LogSink = (line: Record<string, unknown>) => void;

/** Writes one JSON line to stderr: the default sink. */
export function writeToStderr(line: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(line)}\n`);
}

/**
 * One JSON line per call on stderr (the contract's `CallLogLine`), for
 * `docker logs`, any log shipper and `funker dev`. Argument values, results,
 * metadata and credentials are never logged: they may hold personal data or
 * secrets, and the call id is enough to correlate. A failed call's error
 * (name, message, stack) is logged only when stacks are exposed to callers.
 */
export function logCall(record: CallRecord, sink: LogSink): void {
  const line = callLogLine({
    id: record.id,
    functionName: record.functionName,
    protocol: record.protocol,
    durationMs: record.durationMs,
    errorCode: record.error?.code,
    // An error carries a stack only when the handler exposes stacks (FUNKER_EXPOSE_STACKS, as funker dev sets it).
    thrown: record.error?.stack === undefined ? undefined : { name: record.error.name, message: record.error.message, stack: record.error.stack },
  });
  try {
    sink(line);
  } catch {
    // A log sink that fails must not take the call, or the replica, down with it.
  }
}

/** A line about the process itself (a start-up failure, an uncaught exception), never about a call's data. */
export function logProcess(level: "error" | "fatal", msg: string, error: unknown, sink: LogSink | undefined = writeToStderr): void {
  const line: ProcessLogLine =
    error instanceof Error ? { level, msg, name: error.name, message: error.message, stack: error.stack } : { level, msg, message: String(error) };
  // A process fault is reported even when call logging is off: the exit code alone would not say why.
  (sink ?? writeToStderr)(line);
}
