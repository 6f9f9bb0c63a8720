import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import diagnosticsChannel from "node:diagnostics_channel";
import { once } from "node:events";
import { existsSync } from "node:fs";
import type { Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, expect } from "vitest";
import { FunkerError } from "@funker/protocol";
import type { TestServer } from "./servers.js";
import { activeResources, expectNoLeaks } from "./leaks.js";

interface Closable {
  close(): Promise<void> | void;
}

/**
 * Registers per-test cleanup: servers, clients and child processes created
 * through `track` are closed after each test, and the test fails if any
 * socket or timer outlives it.
 */
export function useCleanup(): { track<T extends Closable | TestServer>(thing: T): T; trackChild(child: ChildProcess): ChildProcess } {
  let baseline: ReturnType<typeof activeResources>;
  const things: Closable[] = [];
  const children: ChildProcess[] = [];
  beforeEach(() => {
    baseline = activeResources();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await once(child, "exit");
      }
    }
    for (const thing of things.splice(0).reverse()) await thing.close();
    await expectNoLeaks(baseline);
  });
  return {
    track(thing) {
      things.push(thing);
      return thing;
    },
    trackChild(child) {
      children.push(child);
      return child;
    },
  };
}

/** The rejection of `promise`, which must be a `FunkerError`. */
export async function rejectionOf(promise: Promise<unknown>): Promise<FunkerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FunkerError);
    return error as FunkerError;
  }
  throw new Error("expected the call to fail, but it succeeded");
}

/**
 * A child process that listens on 127.0.0.1 and, once it has read a call,
 * accepts it (a heartbeat for its id, as a handler does before it runs the
 * function), prints "received" and does nothing more: the test kills it
 * mid-call. Plain JavaScript, so it needs no build.
 */
export async function startSilentChild(): Promise<{ child: ChildProcess; port: number; received: Promise<void> }> {
  // A version 2 handler reduced to what the test needs: the HELLO after the
  // preface, then one heartbeat once the call has arrived, then silence.
  const script = `
    const net = require("node:net");
    const server = net.createServer((socket) => {
      let bytes = Buffer.alloc(0);
      let greeted = false;
      const onData = (chunk) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (!greeted && bytes.length >= 8) {
          greeted = true;
          socket.write(Buffer.from([6, 0, 0, 0, 3, 2, 0, 0]));
        }
        // preface (8), type (1), length (4), then the payload: flags (1), id length (1), id
        if (bytes.length < 15 || bytes.length < 13 + bytes.readUInt32BE(9)) return;
        socket.off("data", onData);
        const id = bytes.subarray(15, 15 + bytes[14]);
        const heartbeat = Buffer.concat([Buffer.from([4, 0, 0, 0, 2 + id.length, 0, id.length]), id]);
        socket.write(heartbeat, () => process.stdout.write("received\\n"));
      };
      socket.on("data", onData);
    });
    server.listen(0, "127.0.0.1", () => process.stdout.write("port " + server.address().port + "\\n"));
  `;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  let onReceived: () => void = () => {};
  const received = new Promise<void>((resolve) => {
    onReceived = resolve;
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("exit", () => reject(new Error("the child exited before listening")));
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /port (\d+)/.exec(output);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
      if (output.includes("received")) onReceived();
    });
  });
  return { child, port, received };
}

/** A real replica process (test-fixtures/reuse-replica.mjs, on the built handler) and what it printed. */
export interface ReplicaProcess {
  readonly child: ChildProcess;
  /** Resolves with the value of `key` in the first JSON line on its stdout that has it. */
  printed(key: string): Promise<unknown>;
}

const replicaFixture = fileURLToPath(new URL("../../test-fixtures/reuse-replica.mjs", import.meta.url));

/**
 * Starts test-fixtures/reuse-replica.mjs with `env` (FUNKER_PORT, FUNKER_MODE,
 * …), on loopback and without its call log. It runs the handler's `dist/`,
 * which `pnpm test` builds first.
 */
export function startReplicaProcess(env: Record<string, string>): ReplicaProcess {
  const handlerBuild = fileURLToPath(new URL("../../node_modules/@funker/handler/dist/index.js", import.meta.url));
  if (!existsSync(handlerBuild)) throw new Error(`${handlerBuild} is missing: build first with \`npx turbo run build --filter=@funker/handler\``);
  const child = spawn(process.execPath, [replicaFixture], {
    env: { ...process.env, FUNKER_HOST: "127.0.0.1", FUNKER_PORT: "0", FUNKER_LOG: "off", NODE_ENV: "", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: Record<string, unknown>[] = [];
  let wake: () => void = () => {};
  createInterface({ input: child.stdout }).on("line", (line) => {
    lines.push(JSON.parse(line) as Record<string, unknown>);
    wake();
  });
  const exited = once(child, "exit");
  return {
    child,
    async printed(key) {
      for (;;) {
        const line = lines.find((candidate) => key in candidate);
        if (line !== undefined) return line[key];
        const next = new Promise<"line">((resolve) => (wake = () => resolve("line")));
        if ((await Promise.race([next, exited.then(() => "exit" as const)])) === "exit") throw new Error(`the replica exited before printing ${key}`);
      }
    },
  };
}

/** An error shaped like Node's DNS errors. */
export function dnsError(code: string): Error {
  return Object.assign(new Error(`queryA ${code}`), { code });
}

/**
 * Counts connections refused at `port`, seen through Node's `net.client.socket`
 * diagnostics channel: every client socket, including the client's own.
 */
export function countRefusals(port: number): { readonly count: number; stop(): void } {
  const counter = { count: 0, stop: () => {} };
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket;
    socket.on("error", (error: Error & { code?: string; port?: number }) => {
      if (error.code === "ECONNREFUSED" && error.port === port) counter.count += 1;
    });
  };
  diagnosticsChannel.subscribe("net.client.socket", onSocket);
  counter.stop = () => diagnosticsChannel.unsubscribe("net.client.socket", onSocket);
  return counter;
}

/** A port on 127.0.0.1 where nothing listens (it was just freed). */
export { freePort as closedPort } from "@funker/node-utils";
