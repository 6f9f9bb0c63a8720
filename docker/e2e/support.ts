import { readFileSync } from "node:fs";
import { inject } from "vitest";
import type { ProvidedContext } from "vitest";
import { runDocker } from "../../packages/cli/src/internal.js";
import type { DockerResult } from "../../packages/cli/src/internal.js";
import type { LoadFigures } from "../caller/load-run.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** This run's prefix: every service, container, image tag and network the tests create carries it. */
    runId: string;
    images: { caller: string; handlerNode: string; autoscaler: string; add: string; markdown: string; addJs: string; seedAdd: string };
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
/** A Dockerfile of the repository (`folder/Dockerfile`) that starts FROM funker/handler-node, made to start FROM this run's image of it. */
export function handlerNodeDockerfile(repository: string, folder: string, handlerNodeImage: string): string {
  return readFileSync(`${repository}/${folder}/Dockerfile`, "utf8").replace("funker/handler-node", handlerNodeImage);
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

/** The JSON line `funker-load --json` prints. */
export function parseLoadFigures(stdout: string): LoadFigures {
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as LoadFigures;
}

/** A shell command as a document gives it: its words, and the text of its trailing `# comment` (often the output it prints). */
export interface DocumentedCommand {
  words: string[];
  comment: string;
}

/**
 * The first command in a ```sh block of `file` (relative to the repository)
 * whose words start with `prefix`, lines continued with `\` joined. The
 * tests run the documents' commands so that a reader can copy them as they
 * are; a command the tests cannot split plainly (quotes, variables) is refused.
 */
export function documentedCommand(file: string, prefix: string): DocumentedCommand {
  const text = readFileSync(new URL(`../../${file}`, import.meta.url), "utf8");
  const blocks = [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
  const lines = blocks.flatMap((block) => block.replace(/\\\n\s*/g, " ").split("\n"));
  for (const line of lines) {
    const [command = "", ...comment] = line.split(" # ");
    const words = command.trim().split(/\s+/);
    if (words.join(" ").startsWith(prefix)) {
      if (/["'$`]/.test(command)) throw new Error(`${file}: the command "${command.trim()}" needs a shell to split it`);
      return { words, comment: comment.join(" # ").trim() };
    }
  }
  throw new Error(`${file} has no command starting with "${prefix}" in a sh block`);
}

/** Replaces whole words (a document's service and image names by this run's). */
export function replaceWords(words: readonly string[], replacements: Readonly<Record<string, string>>): string[] {
  return words.map((word) => (Object.hasOwn(replacements, word) ? (replacements[word] as string) : word));
}

/**
 * A document's `docker service create …` as this run creates it: its names
 * and image replaced, created detached (the test waits for the replicas
 * itself) and labelled for clean-up.
 */
export async function createDocumentedService(command: DocumentedCommand, replacements: Readonly<Record<string, string>>): Promise<void> {
  const [docker1, service, create, ...options] = replaceWords(command.words, replacements);
  if (`${docker1} ${service} ${create}` !== "docker service create") throw new Error(`not a docker service create: ${command.words.join(" ")}`);
  await docker(["service", "create", "--detach", "--label", `${TEST_LABEL}=${runId()}`, ...options]);
}

/** The command a document runs in the caller image (`docker run --rm --net funker funker/caller <command…>`): the words after the image. */
export function callerCommand(command: DocumentedCommand, replacements: Readonly<Record<string, string>>): string[] {
  const prefix = ["docker", "run", "--rm", "--net", "funker", "funker/caller"];
  if (command.words.slice(0, prefix.length).join(" ") !== prefix.join(" ")) throw new Error(`not a command in the caller image: ${command.words.join(" ")}`);
  return replaceWords(command.words.slice(prefix.length), replacements);
}
