import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const packageRoot = fileURLToPath(new URL("..", import.meta.url));
export const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/** Child processes run the built package: fail with the fix when it is missing. */
export function requireBuilt(path: string, build: string): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: build first with \`npx turbo run build --filter=${build}...\` (pnpm test does it)`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process with its output as lines; killed on dispose if still running. */
export class Child implements AsyncDisposable {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  private waiters: (() => void)[] = [];

  constructor(readonly process: ChildProcess) {
    // "close", not "exit": the output streams have been read to their end by then.
    this.exited = new Promise((resolve) => process.once("close", (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
    for (const [stream, lines] of [
      [process.stdout, this.stdout],
      [process.stderr, this.stderr],
    ] as const) {
      if (stream === null) continue;
      createInterface({ input: stream }).on("line", (line) => {
        lines.push(line);
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    }
  }

  /** Waits for a stdout line that parses as JSON and has `key`; returns its value. */
  async stdoutValue(key: string): Promise<unknown> {
    for (;;) {
      for (const line of this.stdout) {
        try {
          const value = JSON.parse(line) as Record<string, unknown>;
          if (key in value) return value[key];
        } catch {
          // not a JSON line
        }
      }
      const exited = await Promise.race([this.exited.then(() => true), new Promise<false>((resolve) => this.waiters.push(() => resolve(false)))]);
      if (exited) throw new Error(`the child exited before printing ${key}; stderr: ${this.stderr.join("\n")}`);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** Runs a fixture of this package (test-fixtures/NAME.mjs) with `env` added. */
export function runFixture(name: string, args: string[] = [], env: Record<string, string> = {}): Child {
  requireBuilt(`${packageRoot}dist/index.js`, "@funker/handler");
  return runNode(`${packageRoot}test-fixtures/${name}.mjs`, args, env);
}

/** Runs a Node script with the handler's test defaults (loopback, port 0) under `env`; `node`: another Node binary. */
export function runNode(script: string, args: string[] = [], env: Record<string, string> = {}, node: string = process.execPath): Child {
  const child = spawn(node, [script, ...args], {
    env: { ...process.env, FUNKER_HOST: "127.0.0.1", FUNKER_PORT: "0", NODE_ENV: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Child(child);
}

export { freePort } from "@funker/node-utils";

/** Runs a program to its end and returns its exit code and output. */
export async function runToEnd(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}
