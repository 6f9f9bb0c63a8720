import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/**
 * The 2017 fixtures: a stand-in for the 2017 Node library (`funker.cjs`), a
 * program serving a 2017 function with it (`serve.cjs`) and a 2017 caller
 * (`call.cjs`). Written from the 2017 wire format in PROTOCOL.md, section 3.
 */
export const LEGACY_2017_FOLDER = fileURLToPath(new URL("../fixtures/legacy-2017/", import.meta.url));
const serveProgram = `${LEGACY_2017_FOLDER}serve.cjs`;
const callProgram = `${LEGACY_2017_FOLDER}call.cjs`;

/** The two 2017 callers: Node's parses an empty reply and dies; Python's returned None (`null`) for it. */
export type Legacy2017Caller = "node" | "python";

/** What a run of the 2017 caller printed and how it ended. */
export interface Legacy2017CallOutcome {
  /** 0 when it printed a reply; 1 for a connection error; another code when it crashed. */
  readonly exitCode: number | null;
  /** The reply as JSON text (`null` for the Python caller's empty reply); empty when there was none. */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * One call by the 2017 caller, as a child process: `body` is the request's
 * JSON text, written as is. Resolves when the caller exits, whatever happened.
 */
export async function call2017(host: string, port: number, body: string, caller: Legacy2017Caller = "node"): Promise<Legacy2017CallOutcome> {
  const child = spawn(process.execPath, [callProgram, host, String(port), body, caller], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const [exitCode] = (await once(child, "close")) as [number | null];
  return { exitCode, stdout: stdout.trim(), stderr: stderr.trim() };
}

/**
 * The 2017 caller against a function that may not listen yet: a starting
 * function cannot be probed (a probe connection would be a single-shot
 * function's one call), so the call itself is repeated while the port
 * refuses, at most `attempts` times, 20 ms apart.
 */
export async function call2017WhenListening(host: string, port: number, body: string, caller: Legacy2017Caller = "node", attempts = 250): Promise<Legacy2017CallOutcome> {
  let outcome = await call2017(host, port, body, caller);
  for (let attempt = 1; attempt < attempts && outcome.exitCode === 1 && outcome.stderr === "ERR ECONNREFUSED"; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    outcome = await call2017(host, port, body, caller);
  }
  return outcome;
}

/** A 2017 function running in a child process; killed when disposed. */
export interface Running2017Function extends AsyncDisposable {
  readonly port: number;
  readonly process: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) and the stderr text. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
}

/** The functions serve.cjs knows: the seed's `add`, `echo`, one that throws, one that works on after replying. */
export type Legacy2017FunctionName = "add" | "echo" | "throws" | "reply-then-write";

/**
 * Starts a 2017 function on 127.0.0.1 (port 0 by default: a free one) and
 * resolves once it listens. It serves one connection, then exits.
 */
export async function start2017Function(name: Legacy2017FunctionName, port = 0): Promise<Running2017Function> {
  const child = spawn(process.execPath, [serveProgram, name], {
    env: { ...process.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", LEGACY_ANNOUNCE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = once(child, "close").then(([code]) => ({ code: code as number | null, stderr }));
  const lines = createInterface({ input: child.stdout });
  const listening = new Promise<number>((resolve, reject) => {
    lines.once("line", (line) => resolve((JSON.parse(line) as { port: number }).port));
    void exited.then(({ code }) => reject(new Error(`the 2017 function exited (code ${String(code)}) before listening: ${stderr}`)));
  });
  const boundPort = await listening;
  return {
    port: boundPort,
    process: child,
    exited,
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A 2017 function kept running on one port, restarted whenever it exits, as `restart: always` does. */
export interface Kept2017Replica extends AsyncDisposable {
  readonly port: number;
  /** Processes started so far, the first included. */
  readonly starts: number;
}

/**
 * Keeps a 2017 function serving on `port` (a free one by default): each
 * process serves one connection and exits, or dies on a request it cannot
 * parse, and a new one is started on the same port at once.
 */
export async function keep2017Replica(name: Legacy2017FunctionName): Promise<Kept2017Replica> {
  let stopped = false;
  let starts = 0;
  let current: Running2017Function | undefined = await start2017Function(name);
  starts += 1;
  const port = current.port;
  const loop = (async () => {
    while (!stopped && current !== undefined) {
      await current.exited;
      if (stopped) break;
      current = await start2017Function(name, port);
      starts += 1;
    }
  })();
  return {
    port,
    get starts() {
      return starts;
    },
    async [Symbol.asyncDispose]() {
      stopped = true;
      await current?.[Symbol.asyncDispose]();
      await loop;
    },
  };
}
