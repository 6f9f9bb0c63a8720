import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI: tests run it as users do, as a child process. `pnpm test` builds it first. */
export const CLI = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const CLI_NODE_MODULES = fileURLToPath(new URL("../node_modules", import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (pnpm exec turbo run build --filter=@funker/cli...)`);
}

/** A throw-away project: funker.yml and function sources in a temporary folder that resolves the workspace packages. */
export interface Project extends Disposable {
  readonly root: string;
  write(path: string, content: string): void;
}

export function makeProject(files: Record<string, string>): Project {
  const root = mkdtempSync(join(tmpdir(), "funker-cli-test-"));
  // Functions import @funker/handler and @funker/client; these resolve through the CLI's own dependencies.
  symlinkSync(CLI_NODE_MODULES, join(root, "node_modules"), "dir");
  const write = (path: string, content: string): void => {
    const file = join(root, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  for (const [path, content] of Object.entries(files)) write(path, content);
  return { root, write, [Symbol.dispose]: () => rmSync(root, { recursive: true, force: true }) };
}

/** A function served with @funker/handler; `body` is the function's expression. */
export function handlerSource(body: string, imports = ""): string {
  return `import { handler } from "@funker/handler";\n${imports}\nhandler(${body});\n`;
}

/** A running `funker` child process, its output collected for assertions. */
export interface CliProcess extends AsyncDisposable {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the collected standard error matches `pattern`; rejects after `timeoutMs` or when the process exits first. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Generous: the machine is shared and slow at times; waits end on the awaited event, not on the timeout. */
export const WAIT_MS = 30_000;

export function startCli(args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, FUNKER_ENDPOINTS: "", NO_COLOR: "1", FORCE_COLOR: "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.end(options.input ?? "");
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const listener of listeners) listener();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of listeners) listener();
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStderr(pattern, timeoutMs = WAIT_MS) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = stderr.match(pattern);
          if (match !== null) finish(() => resolve(match));
          else if (done) finish(() => reject(new Error(`exited before ${pattern} appeared; stderr:\n${stderr}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern}; stderr:\n${stderr}`))), timeoutMs);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      if (!done) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Runs `funker` to completion. */
export async function runCli(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; input?: string },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = startCli(args, options);
  const { code } = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
