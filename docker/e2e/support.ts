import { readFileSync } from "node:fs";
import { inject } from "vitest";
import type { ProvidedContext } from "vitest";
import { runDocker } from "../../packages/cli/src/internal.js";
import type { DockerResult } from "../../packages/cli/src/internal.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** This run's prefix: every service, container, image tag and network the tests create carries it. */
    runId: string;
    images: { caller: string; handlerNode: string; add: string; markdown: string; addJs: string };
  }
}

/** The label every resource the tests create carries, with the run's id, so that clean-up finds what a failed run left. */
export const TEST_LABEL = "io.funker.test";

export function runId(): string {
  return inject("runId");
}

export function images(): ProvidedContext["images"] {
  return inject("images");
}

/** Runs docker and throws with its output when it fails. */
export async function docker(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<string> {
  const result = await runDocker(args, options);
  if (result.code !== 0) throw new Error(`docker ${args.join(" ")} failed (exit ${result.code}):\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

/** Runs docker and returns the whole result, failed or not. */
export function dockerResult(args: readonly string[], options: { input?: string } = {}): Promise<DockerResult> {
  return runDocker(args, options);
}

/** A one-off container on `network` from the caller image; removed when it exits, labelled for clean-up if the test is cut short. */
export async function callerRun(network: string, command: readonly string[], options: { input?: string } = {}): Promise<DockerResult> {
  const interactive = options.input === undefined ? [] : ["-i"];
  return dockerRunOn(network, ["--rm", ...interactive, "--label", `${TEST_LABEL}=${runId()}`, images().caller, ...command], options);
}

/**
 * `docker run --net <network> …`, tried again when the engine says the
 * network is "not found": Docker 20.10 tears an attachable overlay network
 * down on a node when its last container leaves, and a container that joins
 * at that moment fails to start (nothing ran, so trying again is safe).
 */
export async function dockerRunOn(network: string, args: readonly string[], options: { input?: string } = {}): Promise<DockerResult> {
  for (let attempt = 1; ; attempt += 1) {
    const result = await runDocker(["run", "--net", network, ...args], options);
    if (result.code !== 125 || !/network \S+ not found/.test(result.stderr) || attempt === 5) return result;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Polls `check` until it returns a value other than undefined, or throws after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Waits until a service runs `replicas` tasks. */
export function waitForReplicas(service: string, replicas: number, timeoutMs = 60_000): Promise<true> {
  return waitFor(`${service} to run ${replicas} replicas`, async () => {
    const listed = await docker(["service", "ls", "--filter", `name=${service}`, "--format", "{{.Name}} {{.Replicas}}"]);
    return listed.split("\n").includes(`${service} ${replicas}/${replicas}`) ? true : undefined;
  }, timeoutMs);
}

/**
 * Removes services (by name), then waits until Swarm has removed their
 * containers too, so that the images they ran can be deleted afterwards.
 */
export async function removeServices(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  const existing = (await dockerResult(["service", "ls", "--format", "{{.Name}}"])).stdout.split("\n");
  const present = names.filter((name) => existing.includes(name));
  if (present.length > 0) await dockerResult(["service", "rm", ...present]);
  for (const name of present) {
    await waitFor(`the containers of ${name} to go`, async () => {
      const left = await docker(["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${name}`]);
      return left.trim() === "" ? true : undefined;
    }, 60_000).catch(() => undefined);
  }
}

/** Prints a stage's figures in the log, where CI keeps them. */
export function report(stage: string, figures: object): void {
  process.stdout.write(`[docker e2e] ${stage}: ${JSON.stringify(figures)}\n`);
}

/** The Dockerfile of examples/add-js with its base image replaced by this run's tag. */
export function addJsDockerfile(repository: string, handlerNodeImage: string): string {
  return readFileSync(`${repository}/examples/add-js/Dockerfile`, "utf8").replace("funker/handler-node", handlerNodeImage);
}

/**
 * A run's id names the process that owns it (`e2e<pid in base 36>x<random>`),
 * so that a run can tell what an aborted run left from what a run still
 * going on the same engine is using.
 */
export function newRunId(pid: number, random: string): string {
  return `e2e${pid.toString(36)}x${random}`;
}

/** Whether the run that made resources labelled `id` is still going: its process is alive. Unknown ids are not. */
export function runIsAlive(id: string): boolean {
  const owner = /^e2e([0-9a-z]+)x[0-9a-f]+$/.exec(id)?.[1];
  if (owner === undefined) return false;
  try {
    process.kill(Number.parseInt(owner, 36), 0);
    return true;
  } catch (error) {
    // EPERM: alive, under another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes what aborted runs left, and nothing a run still going uses. */
export async function removeAbandoned(): Promise<void> {
  const filter = `label=${TEST_LABEL}`;
  const values = async (list: string[], inspect: (ids: string[]) => string[] | undefined): Promise<string[]> => {
    const ids = (await dockerResult(list)).stdout.split("\n").filter((line) => line !== "");
    const command = inspect(ids);
    if (ids.length === 0 || command === undefined) return ids;
    return (await dockerResult(command)).stdout.split("\n").filter((line) => line !== "");
  };
  const label = `{{index .Config.Labels "${TEST_LABEL}"}}`;
  const ids = new Set([
    ...(await values(["ps", "-a", "--filter", filter, "--format", `{{.Label "${TEST_LABEL}"}}`], () => undefined)),
    ...(await values(["network", "ls", "--filter", filter, "--format", `{{.Label "${TEST_LABEL}"}}`], () => undefined)),
    ...(await values(["service", "ls", "-q", "--filter", filter], (found) => ["service", "inspect", "--format", `{{index .Spec.Labels "${TEST_LABEL}"}}`, ...found])),
    ...(await values(["image", "ls", "-q", "--filter", filter], (found) => ["image", "inspect", "--format", label, ...new Set(found)])),
  ]);
  for (const id of ids) if (!runIsAlive(id)) await removeLabelled(id);
}

/**
 * Removes everything labelled `io.funker.test` with the value `id`: compose
 * projects' and Swarm's services, containers, images, networks.
 */
export async function removeLabelled(id: string): Promise<void> {
  const filter = `label=${TEST_LABEL}=${id}`;
  const lines = (result: DockerResult): string[] => result.stdout.split("\n").filter((line) => line !== "");
  await removeServices(lines(await dockerResult(["service", "ls", "--filter", filter, "--format", "{{.Name}}"])));
  const containers = lines(await dockerResult(["ps", "-aq", "--filter", filter]));
  if (containers.length > 0) await dockerResult(["rm", "-f", ...containers]);
  const networks = lines(await dockerResult(["network", "ls", "--filter", filter, "--format", "{{.Name}}"]));
  if (networks.length > 0) await dockerResult(["network", "rm", ...networks]);
  const images = lines(await dockerResult(["image", "ls", "--filter", filter, "--format", "{{.Repository}}:{{.Tag}}"]));
  if (images.length > 0) await dockerResult(["image", "rm", "-f", ...images]);
  // Intermediate images of the classic builder, left untagged by the builds above.
  const dangling = lines(await dockerResult(["image", "ls", "-q", "--filter", "dangling=true", "--filter", filter]));
  if (dangling.length > 0) await dockerResult(["image", "rm", "-f", ...dangling]);
}

/** The JSON line `funker-load` prints (docker/caller/load.ts). */
export interface LoadFigures {
  failureExamples: Record<string, string>;
  calls: number;
  ok: number;
  wrong: number;
  failures: Record<string, number>;
  callsPerSecond: number;
  socketsOpened: number;
  connectErrors: Record<string, number>;
  failedAttemptsPerSuccess: number | null;
}

export function parseLoadFigures(stdout: string): LoadFigures {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as LoadFigures;
}

