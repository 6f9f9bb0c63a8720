/**
 * What the record function leaves in its folder, read back: the execution
 * logs (one per process, `executed-<pid>-<host>.log`, a line per call it
 * ran) and the busy markers (`busy-<pid>-<host>`, there while a call runs).
 * The host name tells containers apart, whose processes share pids.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));

/** The record function's source: funker dev and funker build bundle it, whether the soak runs from src or dist. */
export function recordFunctionEntry(): string {
  const besideSource = join(here, "..", "src", "record-function.ts");
  return existsSync(besideSource) ? besideSource : join(here, "record-function.ts");
}

export function busyMarkerName(pid: number, host: string): string {
  return `busy-${pid}-${host}`;
}

export function executionLogName(pid: number, host: string): string {
  return `executed-${pid}-${host}.log`;
}

/** The processes running a call now, by their busy markers. */
export function busyReplicas(folder: string): { pid: number; host: string }[] {
  return readdirSync(folder).flatMap((name) => {
    const match = /^busy-(\d+)-(.+)$/.exec(name);
    return match === null ? [] : [{ pid: Number(match[1]), host: match[2] as string }];
  });
}

/** Every id in every execution log, with how many times it ran. */
export function readExecutions(folder: string): Map<number, number> {
  const executions = new Map<number, number>();
  for (const name of readdirSync(folder)) {
    if (!name.startsWith("executed-")) continue;
    for (const line of readFileSync(join(folder, name), "utf8").split("\n")) {
      if (line === "") continue;
      const id = Number(line.split(" ")[0]);
      executions.set(id, (executions.get(id) ?? 0) + 1);
    }
  }
  return executions;
}
