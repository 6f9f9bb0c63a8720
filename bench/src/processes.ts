/** Child processes of the benchmark: servers, callers and replicas, all on 127.0.0.1, all cleaned up. */
import { fork, spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleForImage } from "@funker/cli";
import type { CallerSetup, RoundMeasurement, RunCommand } from "./messages.js";

export const benchDist = dirname(fileURLToPath(import.meta.url));
export const repositoryRoot = join(benchDist, "..", "..");

/** The add example as built for its image; the bench's own copy of it when the example is not built. */
/**
 * Every Funker replica the bench starts runs the add example as an image
 * ships it: bundled into one file by `funker build`'s own bundler, no source
 * map. Made once per run by `prepareFunkerAdd`.
 */
export const funkerAddBundle = join(benchDist, "image", "add.mjs");

/** Bundles the add example (or, without it, the bench's own copy of add) as `funker build` does for an image. */
export async function prepareFunkerAdd(): Promise<void> {
  const example = join(repositoryRoot, "examples", "add", "src", "handler.ts");
  const entry = existsSync(example) ? example : join(repositoryRoot, "bench", "src", "servers", "funker-add.ts");
  const outcome = await bundleForImage({ entry, outputFile: funkerAddBundle, workingDirectory: repositoryRoot });
  if (!outcome.ok) throw new Error(`bundling ${entry} failed: ${outcome.message}`);
}

export function serverScript(name: string): string {
  return join(benchDist, "servers", `${name}.js`);
}

/**
 * The environment of every child. NODE_EXTRA_CA_CERTS is removed: on these
 * machines it makes every Node start read a certificate bundle (tens of ms),
 * which a function's container does not do, and it would blur start-up times.
 */
export function childEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "production", ...extra };
  delete environment["NODE_EXTRA_CA_CERTS"];
  delete environment["FUNKER_ENDPOINTS"];
  return environment;
}

const running = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/** Kills every child still running (at the end, on a failure, on Ctrl-C). */
export function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
}

export function spawnNode(args: readonly string[], environment: NodeJS.ProcessEnv, execArgv: readonly string[] = []): ChildProcess {
  return track(spawn(process.execPath, [...execArgv, ...args], { env: environment, stdio: ["ignore", "ignore", "inherit"] }));
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

/** A port free at this moment on 127.0.0.1 (handlers take their port from the environment, as in a container). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * Connects as soon as something listens on the port, trying every
 * millisecond: the same probe for every server measured, so its granularity
 * (about 1 ms) is in both sides of each ratio. Resolves with the open socket.
 */
export function connectWhenListening(port: number, timeoutMs: number, child?: ChildProcess): Promise<Socket> {
  const giveUpAt = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect({ host: "127.0.0.1", port, noDelay: true });
      socket.once("connect", () => {
        socket.removeAllListeners("error");
        resolve(socket);
      });
      socket.once("error", (error) => {
        socket.destroy();
        if (child !== undefined && child.exitCode !== null) reject(new Error(`the process exited (${child.exitCode}) before listening on ${port}`));
        else if (Date.now() > giveUpAt) reject(new Error(`nothing listened on ${port} within ${timeoutMs} ms: ${error.message}`));
        else setTimeout(attempt, 1);
      });
    };
    attempt();
  });
}

/** Waits until the server listens, with a probe connection that is closed at once (servers shrug it off). */
export async function waitForListening(port: number, child: ChildProcess): Promise<void> {
  const socket = await connectWhenListening(port, 15_000, child);
  socket.destroy();
}

/** Resident set size in bytes, from the kernel's view of the process. */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * CPU time (user + system) a process has used so far, in ms, from
 * /proc/<pid>/stat. Its resolution is the kernel's clock tick (10 ms at the
 * usual 100 Hz): over a round of thousands of calls, a few µs per call.
 */
export async function cpuMilliseconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every mainstream Linux build (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = 100;

/** A forked caller process, driven round by round. */
export class CallerProcess {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;

  constructor(setup: CallerSetup, execArgv: readonly string[] = []) {
    this.child = track(
      fork(join(benchDist, "caller.js"), [], {
        env: childEnvironment({ BENCH_CALLER: JSON.stringify(setup) }),
        execArgv: [...execArgv],
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      }),
    );
    this.ready = this.next("ready").then(() => undefined);
  }

  private next(type: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: { type: string }): void => {
        if (message.type !== type) return;
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        resolve(message);
      };
      const onExit = (code: number | null): void => reject(new Error(`the caller exited (${code}) while the bench waited for "${type}"`));
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
    });
  }

  async run(durationMs: number, concurrency: number): Promise<RoundMeasurement> {
    await this.ready;
    const answer = this.next("measurement");
    const command: RunCommand = { type: "run", durationMs, concurrency };
    // A callback takes a closed channel's error: the caller's exit rejects `answer` instead of an unhandled 'error'.
    this.child.send(command, () => undefined);
    return ((await answer) as { measurement: RoundMeasurement }).measurement;
  }

  /** Closes the client and lets the process end by itself (so `--cpu-prof` can write its profile). */
  async close(): Promise<void> {
    // A caller killed by a scenario's time limit has a signal and no channel, not an exit code.
    if (this.child.exitCode !== null || this.child.signalCode !== null || !this.child.connected) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.send({ type: "close" }, () => undefined);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** The frames a handler sends before it answers: its HELLO, and the heartbeat that accepts the call. */
export function isPreamble(frame: { type: string }): boolean {
  return frame.type === "hello" || frame.type === "heartbeat";
}
