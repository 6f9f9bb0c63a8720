import { spawn } from "node:child_process";
import { LineSplitter } from "../terminal.js";

export interface DockerResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface DockerRunOptions {
  /** Extra environment for the `docker` process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with each whole line of output as it comes, for progress. */
  readonly onLine?: (line: string, stream: "stdout" | "stderr") => void;
  /** Written to the process's standard input, which is then closed. */
  readonly input?: string;
  /** The `docker` program; `FUNKER_DOCKER` or `docker` on PATH by default. */
  readonly program?: string;
}

/**
 * Runs the `docker` client and resolves with its exit code and output; never
 * rejects for a failed command (the caller decides what a failure means).
 * The client, not the Engine API, is used so that the user's contexts,
 * `DOCKER_HOST` and credentials apply exactly as on their command line.
 */
export function runDocker(args: readonly string[], options: DockerRunOptions = {}): Promise<DockerResult> {
  const program = options.program ?? process.env["FUNKER_DOCKER"] ?? "docker";
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      env: { ...process.env, ...options.env },
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const splitters = {
      stdout: new LineSplitter((line) => options.onLine?.(line, "stdout")),
      stderr: new LineSplitter((line) => options.onLine?.(line, "stderr")),
    };
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      splitters.stdout.push(chunk);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      splitters.stderr.push(chunk);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    child.on("error", (error: NodeJS.ErrnoException) => {
      const reason = error.code === "ENOENT" ? `${program} not found: install Docker, or set FUNKER_DOCKER` : error.message;
      resolve({ code: 127, stdout, stderr: `${stderr}${reason}\n` });
    });
    child.on("close", (code, signal) => {
      splitters.stdout.flush();
      splitters.stderr.flush();
      resolve({ code: code ?? (signal === null ? 1 : 128), stdout, stderr });
    });
  });
}

let builderEnvironment: Promise<Record<string, string>> | undefined;

/**
 * The environment `docker build` needs here. Docker's client builds with
 * BuildKit through the buildx plugin, and fails where the plugin is missing
 * (Debian's docker.io ships none); there the classic builder, which builds
 * Funker's one-COPY Dockerfiles the same, is chosen. An explicit
 * DOCKER_BUILDKIT wins.
 */
export function buildEnvironment(): Promise<Record<string, string>> {
  if (process.env["DOCKER_BUILDKIT"] !== undefined) return Promise.resolve({});
  const found = (builderEnvironment ??= runDocker(["buildx", "version"]).then(
    (result): Record<string, string> => (result.code === 0 ? {} : { DOCKER_BUILDKIT: "0" }),
  ));
  return found;
}

/** The last lines of a command's output, for an error message that shows what went wrong without flooding. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
