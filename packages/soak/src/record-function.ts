/**
 * The function under soak. It writes the soak id of each call it executes
 * to its process's own log and syncs it before doing anything else, so that
 * a replica killed at any point afterwards has left the proof that it ran;
 * then it works for the time the caller asked (the window in which a kill
 * lands mid-call) and returns the id. While a call runs, a busy marker tells
 * the chaos loop which process to kill mid-call (records.ts names both files).
 */
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { handler } from "@funker/handler";
import { busyMarkerName, executionLogName } from "./records.js";

const folder = process.env["SOAK_DIR"];
if (folder === undefined) throw new Error("SOAK_DIR is not set: the soak names the folder of the execution logs");
const busyMarker = join(folder, busyMarkerName(process.pid, hostname()));
const log = openSync(join(folder, executionLogName(process.pid, hostname())), "a");
process.on("exit", () => closeSync(log));
let running = 0;

handler(async ({ soakId, workMs }: { soakId: number; workMs: number }) => {
  running += 1;
  if (running === 1) writeFileSync(busyMarker, "");
  // The id first; the process and its parent after it, to tell apart who ran a call twice, should one ever be.
  writeSync(log, `${soakId} ${process.pid} ${process.ppid} ${Date.now()}\n`);
  fdatasyncSync(log);
  try {
    if (workMs > 0) await sleep(workMs);
    return soakId;
  } finally {
    running -= 1;
    if (running === 0) {
      try {
        unlinkSync(busyMarker);
      } catch {
        // Already gone: nothing to undo.
      }
    }
  }
});
