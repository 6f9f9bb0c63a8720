import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { createClient } from "@funker/client";
import type { CallOptions, Client, ClientOptions } from "@funker/client";
import { ExitCode, handler } from "@funker/handler";
import { freePort as freeLoopbackPort } from "@funker/node-utils";
import type { FunctionServer, HandlerOptions } from "@funker/handler";

/** Options of `startFunction`. */
export interface StartFunctionOptions extends Omit<HandlerOptions, "port" | "host" | "exit" | "log"> {
  /** The function's name, used by the bound client (and sent in framed calls). Default `"function"`. */
  name?: string;
  /**
   * How many replicas to run (child processes only). Each one restarts after
   * it exits, as Docker restarts a service's task. Default 1.
   */
  replicas?: number;
  /** Extra environment for child processes (merged over `process.env`). */
  env?: Record<string, string>;
  /** Settings of the bound client (timeout, retry, protocol, …). */
  client?: Omit<ClientOptions, "endpoints">;
  /** The Node binary for child processes. Default: this process's. */
  nodePath?: string;
}

/** A function running for a test, with a client bound to it. Dispose of it (`await using`) so nothing leaks. */
export interface RunningFunction<Args = unknown, Result = unknown> extends AsyncDisposable {
  readonly name: string;
  /** The replicas' addresses, `127.0.0.1:<port>`. */
  readonly endpoints: readonly string[];
  /** Calls the function through a real `@funker/client` over TCP. */
  call(args?: Args, options?: CallOptions): Promise<Result>;
  /** The bound client, for calls of your own. */
  readonly client: Client;
  /** Log lines: the handler's one line per call; for child processes, every line of stdout and stderr. */
  readonly logs: readonly string[];
  /** Child processes only: how many times a replica exited, with each exit code. */
  readonly exits: readonly { replica: number; code: number | null; signal: NodeJS.Signals | null }[];
  /** Stops the function (and its replicas); safe to call twice. */
  close(): Promise<void>;
}

/**
 * Runs a function on an ephemeral port for a test and returns a client bound
 * to it. Pass the function itself to serve it in this process (`reuse` mode,
 * fast), or the path of a module that calls `handler()` to run it as child
 * processes with the real single-shot exit semantics, restarted after each
 * call as Docker would.
 */
export async function startFunction<Args = unknown, Result = unknown>(
  fn: ((args: Args, context: never) => Result | PromiseLike<Result>) | string,
  options: StartFunctionOptions = {},
): Promise<RunningFunction<Args, Awaited<Result>>> {
  return typeof fn === "string" ? startChildren(fn, options) : startInProcess(fn as never, options);
}

async function startInProcess<Args, Result>(
  fn: (args: Args, context: never) => Result,
  options: StartFunctionOptions,
): Promise<RunningFunction<Args, Awaited<Result>>> {
  const name = options.name ?? "function";
  const logs: string[] = [];
  const { replicas: _replicas, env: _env, client: clientOptions, nodePath: _nodePath, ...handlerOptions } = options;
  const server: FunctionServer = handler(fn as never, {
    mode: "reuse",
    ...handlerOptions,
    name,
    port: 0,
    host: "127.0.0.1",
    exit: false,
    log: (line: Record<string, unknown>) => logs.push(JSON.stringify(line)),
    // The schema overload and the plain one take the same options at run time.
  } as HandlerOptions & { schema?: undefined });
  const { port } = await server.ready;
  const endpoint = `127.0.0.1:${port}`;
  const client = createClient({ ...clientOptions, endpoints: { [name]: [endpoint] } });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    await client.close();
    await server.close();
  })());
  return {
    name,
    endpoints: [endpoint],
    call: (args, callOptions) => client.call(name, args, callOptions) as Promise<Awaited<Result>>,
    client,
    logs,
    exits: [],
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Restarts after a crash wait this long at first, doubling, as Docker's back-off does (capped lower: tests are short). */
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 2_000;

async function startChildren<Args, Result>(modulePath: string, options: StartFunctionOptions): Promise<RunningFunction<Args, Awaited<Result>>> {
  const name = options.name ?? "function";
  // A validator is code: it cannot cross into another process. The module's own handler() takes it.
  if (options.schema !== undefined) throw new TypeError("startFunction(modulePath): pass the schema to handler() in the module itself");
  const replicaCount = options.replicas ?? 1;
  if (!Number.isInteger(replicaCount) || replicaCount < 1) throw new RangeError("replicas must be a whole number, 1 or more");
  const logs: string[] = [];
  const exits: { replica: number; code: number | null; signal: NodeJS.Signals | null }[] = [];
  const ports = await Promise.all(Array.from({ length: replicaCount }, () => freePort()));
  const endpoints = ports.map((port) => `127.0.0.1:${port}`);
  const children = new Map<number, ChildProcess>();
  let stopping = false;

  const environment = (port: number): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_FUNCTION: name };
    if (options.mode !== undefined) env["FUNKER_MODE"] = options.mode;
    if (options.maxCalls !== undefined) env["FUNKER_MAX_CALLS"] = String(options.maxCalls);
    if (options.concurrency !== undefined) env["FUNKER_CONCURRENCY"] = String(options.concurrency);
    if (options.timeout !== undefined) env["FUNKER_TIMEOUT"] = String(options.timeout);
    if (options.readTimeout !== undefined) env["FUNKER_READ_TIMEOUT"] = String(options.readTimeout);
    if (options.maxPayloadBytes !== undefined) env["FUNKER_MAX_PAYLOAD"] = String(options.maxPayloadBytes);
    if (options.exposeStacks !== undefined) env["FUNKER_EXPOSE_STACKS"] = String(options.exposeStacks);
    if (options.idleTimeout !== undefined) env["FUNKER_IDLE_TIMEOUT"] = String(options.idleTimeout);
    if (options.gracePeriod !== undefined) env["FUNKER_GRACE"] = String(options.gracePeriod);
    if (options.drainTimeout !== undefined) env["FUNKER_DRAIN_TIMEOUT"] = String(options.drainTimeout);
    return env;
  };

  const startReplica = (replica: number, restartDelayMs: number): void => {
    if (stopping) return;
    const port = ports[replica] as number;
    const child = spawn(options.nodePath ?? process.execPath, [modulePath], { env: environment(port), stdio: ["ignore", "pipe", "pipe"] });
    const startedAt = Date.now();
    children.set(replica, child);
    // A binary that cannot be started emits 'error' and never 'exit'.
    child.once("error", (error) => {
      logs.push(`could not start ${modulePath}: ${error.message}`);
      exits.push({ replica: replica + 1, code: null, signal: null });
      children.delete(replica);
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => logs.push(line));
    }
    child.once("exit", (code, signal) => {
      exits.push({ replica: replica + 1, code, signal });
      children.delete(replica);
      if (stopping) return;
      // A clean exit after a call (or a replica that recycled itself) restarts at once (Swarm, restart delay 0);
      // a crash backs off, doubling, and the back-off resets after a healthy run.
      const healthy = code === ExitCode.done || code === ExitCode.recycled || Date.now() - startedAt > 10_000;
      const delay = healthy ? 0 : restartDelayMs;
      const nextDelay = healthy ? FIRST_RESTART_DELAY_MS : Math.min(restartDelayMs * 2, MAX_RESTART_DELAY_MS);
      const timer = setTimeout(() => startReplica(replica, nextDelay), delay);
      timer.unref();
    });
  };
  for (let replica = 0; replica < replicaCount; replica += 1) startReplica(replica, FIRST_RESTART_DELAY_MS);

  const client = createClient({ ...options.client, endpoints: { [name]: endpoints } });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= (async () => {
    stopping = true;
    await client.close();
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }),
    );
  })());
  return {
    name,
    endpoints,
    call: (args, callOptions) => client.call(name, args, callOptions) as Promise<Awaited<Result>>,
    client,
    logs,
    exits,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A port that was free a moment ago. A replica must keep one port across
 * restarts (its callers know it by address), so the port is chosen here
 * rather than by the replica binding port 0.
 */
export function freePort(): Promise<number> {
  return freeLoopbackPort();
}
