/**
 * The soak on a real Swarm: the record function deployed with `funker
 * deploy` (its execution logs in a folder of this machine, bind-mounted into
 * every replica), the callers in a container of the caller image on the
 * functions' network, calling the function by name; the chaos loop here
 * `docker kill`s replicas, mid-call (from the busy markers) and at random;
 * optionally a rolling update midway. Every call is then reconciled as under
 * funker dev (reconcile.ts). Needs a one-node Swarm: the bind mount and the
 * markers are on this machine.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildImages, bundleForImage, deployFunctions, parseConfig, removeFunctions } from "@funker/cli/internal";
import type { HandlerMode } from "@funker/handler/contract";
import { reconcile } from "./reconcile.js";
import type { Told } from "./reconcile.js";
import { busyReplicas, readExecutions, recordFunctionEntry } from "./records.js";
import { soakReport } from "./soak.js";
import type { SoakLoad, SoakReport } from "./soak.js";

const run = promisify(execFile);

/** The chaos loop here `docker kill`s a task's container. */
export interface SwarmSoakOptions extends SoakLoad {
  /** `funker deploy` again with a changed variable once half the time has passed: a rolling update under the load. */
  readonly rollingUpdate: boolean;
  /** An image with `node` that can run the caller bundle (the caller image). */
  readonly callerImage: string;
  /** The record function's image (`buildRecordImage`). */
  readonly recordImage: string;
  /** Names the stack and its network; unique per run. */
  readonly stack: string;
  /** Labels for what the run creates, so that a test's teardown can find it. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

async function docker(args: readonly string[]): Promise<string> {
  const { stdout } = await run("docker", [...args], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** The stack's funker.yml: the record function, its logs' folder mounted at /soak. */
function stackConfig(stack: string, replicas: number, mode: HandlerMode, recordsFolder: string, round: number): string {
  return [
    "version: 1",
    `name: ${stack}`,
    `network: ${stack}`,
    "functions:",
    `  ${stack}-record:`,
    `    entry: ${JSON.stringify(recordFunctionEntry())}`,
    `    replicas: ${replicas}`,
    `    mode: ${mode}`,
    "    environment:",
    "      SOAK_DIR: /soak",
    `      SOAK_ROUND: "${round}"`,
    `    volumes: [${JSON.stringify(`${recordsFolder}:/soak`)}]`,
    "",
  ].join("\n");
}

/** Builds the record function's image with `funker build`, on `baseImage` (funker/handler-node by default). */
export async function buildRecordImage(options: { tag: string; baseImage?: string; labels?: Readonly<Record<string, string>>; log?: (line: string) => void }): Promise<void> {
  const log = options.log ?? (() => undefined);
  const folder = mkdtempSync(join(tmpdir(), "funker-soak-image-"));
  try {
    const config = parseConfig(stackConfig("soak-image", 1, "reuse", "/soak", 1), join(folder, "funker.yml"));
    const built = await buildImages(config, {
      output: { write: (text: string) => (log(text.trimEnd()), true) },
      imageFor: () => options.tag,
      labels: options.labels ?? {},
      ...(options.baseImage === undefined ? {} : { baseImage: options.baseImage }),
    });
    if (!built.ok) throw new Error(built.message);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

export async function runSwarmSoak(options: SwarmSoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => undefined);
  const workFolder = mkdtempSync(join(tmpdir(), "funker-swarm-soak-"));
  const recordsFolder = join(workFolder, "records");
  mkdirSync(recordsFolder);
  // The replicas run as the image's user (node), not as this process's.
  chmodSync(recordsFolder, 0o777);
  const functionName = `${options.stack}-record`;
  const configText = (round: number): string => stackConfig(options.stack, options.replicas, options.mode, recordsFolder, round);
  const configFile = join(workFolder, "funker.yml");
  const output = { write: (text: string) => (log(text.trimEnd()), true) };
  const deployOptions = { output, imageFor: () => options.recordImage, waitMs: 120_000 };
  try {
    const deployed = await deployFunctions(parseConfig(configText(1), configFile), deployOptions);
    if (!deployed.ok) throw new Error(deployed.message);
    const callerBundle = await bundleForImage({ entry: join(recordFunctionEntry(), "..", "swarm-caller.ts"), outputFile: join(workFolder, "caller", "caller.mjs"), workingDirectory: workFolder });
    if (!callerBundle.ok) throw new Error(callerBundle.message);

    const kills = { midCall: 0, random: 0 };
    const firstSeen = new Map<string, number>();
    let midCallNext = true;
    let chaosRunning = true;
    // Kills pause while a rolling update runs: Swarm counts a task killed then as a failed update (and rolls a
    // reuse or fresh function back, as `funker deploy` asks it to), which would test the policy, not the calls.
    let updating = false;
    const chaos = (async () => {
      while (chaosRunning) {
        await new Promise((resolve) => setTimeout(resolve, options.killEveryMs));
        if (updating) continue;
        const now = Date.now();
        const running = (await docker(["ps", "--quiet", "--filter", `label=com.docker.swarm.service.name=${functionName}`]).catch(() => "")).split("\n").filter((id) => id !== "");
        for (const id of running) if (!firstSeen.has(id)) firstSeen.set(id, now);
        const midCall = midCallNext;
        midCallNext = !midCallNext;
        // A container's host name is its short id, which the busy markers carry.
        const candidates = midCall ? busyReplicas(recordsFolder).map((replica) => replica.host) : running.filter((id) => now - (firstSeen.get(id) ?? now) >= options.minReplicaAgeMs);
        const victim = candidates[Math.floor(Math.random() * candidates.length)];
        if (victim === undefined) continue;
        const killed = await docker(["kill", victim]).then(
          () => true,
          () => false, // Gone already: it exited after its call, as single-shot replicas do.
        );
        if (killed) {
          if (midCall) kills.midCall += 1;
          else kills.random += 1;
        }
      }
    })();
    const update = options.rollingUpdate
      ? (async () => {
          await new Promise((resolve) => setTimeout(resolve, options.durationMs / 2));
          log("soak: a rolling update under the load");
          updating = true;
          const updated = await deployFunctions(parseConfig(configText(2), configFile), deployOptions).finally(() => (updating = false));
          if (!updated.ok) throw new Error(`the rolling update failed: ${updated.message}`);
        })()
      : Promise.resolve();

    let callerOutput: string;
    try {
      callerOutput = await docker([
        "run",
        "--rm",
        ...Object.entries(options.labels ?? {}).flatMap(([key, value]) => ["--label", `${key}=${value}`]),
        "--network",
        options.stack,
        "--volume",
        `${join(workFolder, "caller")}:/soak-caller:ro`,
        options.callerImage,
        "node",
        "/soak-caller/caller.mjs",
        functionName,
        String(options.inFlight),
        String(options.calls),
        String(options.durationMs),
        String(options.maxWorkMs),
        String(options.callTimeoutMs),
      ]);
    } finally {
      chaosRunning = false;
      await chaos;
    }
    await update;
    const { seconds, told } = JSON.parse(callerOutput.trim().split("\n").at(-1) ?? "{}") as { seconds: number; told: [number, Told | null][] };
    const result = reconcile(new Map(told.map(([id, what]) => [id, what ?? undefined])), readExecutions(recordsFolder));
    return soakReport(options.rollingUpdate ? "Swarm, with a rolling update" : "Swarm", options, seconds, kills, result);
  } finally {
    await removeFunctions(parseConfig(configText(1), configFile), { output }).catch(() => undefined);
    // The network is in use until the replicas' containers are gone.
    for (let attempt = 0; attempt < 30; attempt += 1) {
      if (await docker(["network", "rm", options.stack]).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    rmSync(workFolder, { recursive: true, force: true });
  }
}
