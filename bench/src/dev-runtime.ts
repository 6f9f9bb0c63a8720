/** `funker dev` as the bench runs it: on a generated funker.yml with the add example, stopped cleanly. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { benchDist, childEnvironment, repositoryRoot, serverScript } from "./processes.js";

export interface DevRuntime {
  readonly ports: number[];
  /** The replicas' processes (a fresh replica's supervisor). */
  readonly pids: number[];
  stop(): Promise<void>;
  /** The runtime's last lines, for a failure's message. */
  output(): string;
}

/** The add example's folder for `funker dev` to bundle; the bench's own copy when the example is missing. */
function addExampleFolder(): string {
  const example = join(repositoryRoot, "examples", "add");
  return existsSync(join(example, "src", "handler.ts")) ? example : serverScript("funker-add");
}

/**
 * Starts `funker dev` (no command: it stays up) on a generated funker.yml
 * with `replicas` of add in `mode`, in a folder of its own, and waits until
 * every replica is idle.
 */
export async function startDevRuntime(mode: "single-shot" | "fresh", replicas: number): Promise<DevRuntime> {
  const cli = join(repositoryRoot, "packages", "cli", "dist", "bin.js");
  if (!existsSync(cli)) throw new Error(`${cli} is not built: run the build of @funker/cli first`);
  const directory = join(benchDist, `dev-${mode}`);
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const configFile = join(directory, "funker.yml");
  await writeFile(
    configFile,
    ["version: 1", "name: bench", "functions:", "  add:", `    entry: ${JSON.stringify(addExampleFolder())}`, `    replicas: ${replicas}`, `    mode: ${mode}`, ""].join("\n"),
  );
  const child = spawn(process.execPath, [cli, "dev", "-f", configFile, "--no-watch"], {
    cwd: directory,
    env: childEnvironment(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString("utf8")).slice(-4_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = once(child, "exit");
  const stopRuntime = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // SIGTERM: the runtime stops its replicas itself; a SIGKILL would orphan them.
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const stateFile = join(directory, ".funker", "dev.json");
  const giveUpAt = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`funker dev exited (${child.exitCode}): ${tail}`);
      if (Date.now() > giveUpAt) throw new Error(`funker dev's replicas did not all listen within 60 s: ${tail}`);
      const state = await readFile(stateFile, "utf8").then(
        (text) => JSON.parse(text) as { functions?: Record<string, { replicas: { port: number; pid?: number; state: string }[] }> },
        () => undefined,
      );
      const listed = state?.functions?.["add"]?.replicas;
      if (listed !== undefined && listed.length === replicas && listed.every((replica) => replica.state === "idle")) {
        return { ports: listed.map((replica) => replica.port), pids: listed.map((replica) => replica.pid ?? 0), stop: stopRuntime, output: () => tail };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stopRuntime();
    throw error;
  }
}
