import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, buildImages, deployFunctions, removeFunctions, bundleForImage, buildEnvironment, volumeName } from "../../packages/cli/src/internal.js";
import type { FunctionSpec, FunkerConfig } from "../../packages/cli/src/internal.js";
import { callerRun, docker, dockerResult, report, runId, TEST_LABEL, waitFor } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));
const example = join(repository, "examples/voting-app");
/** The image of the db service in funker.yml, built offline from Debian's postgresql by docker/build-postgres-image.sh (setup-docker.sh runs it). */
const POSTGRES_IMAGE = "postgres:15-bookworm";

/**
 * What the voters' container shares by both scripts below: a browser's
 * steps over HTTP (the cookie from the ballot, form posts, redirects read by
 * hand), retried while the web task's name is new in the overlay DNS.
 */
const VOTER_LIBRARY = `
const base = process.argv[2];
async function fetchRetrying(url, init) {
  for (let attempt = 1; ; attempt += 1) {
    try { return await fetch(url, init); } catch (error) {
      if (attempt === 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
async function newVoter() {
  const response = await fetchRetrying(base + "/");
  return response.headers.get("set-cookie").split(";")[0];
}
async function vote(cookie, choice) {
  const response = await fetchRetrying(base + "/vote", {
    method: "POST", redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: "vote=" + choice,
  });
  return { status: response.status, location: response.headers.get("location") ?? (await response.text()).slice(0, 200) };
}
`;

/**
 * The seed's flow: A votes a, B votes b, A changes to b; a results stream
 * opened first records every count it is sent; the counts are read again at
 * the end, as a reload would.
 */
const FLOW_SCRIPT = `${VOTER_LIBRARY}
const streamed = [];
const stream = await fetchRetrying(base + "/results/stream");
const reader = stream.body.getReader();
let buffered = "";
void (async () => {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += Buffer.from(value).toString("utf8");
    for (const match of buffered.matchAll(/event: counts\\ndata: (.*)\\n\\n/g)) streamed.push(JSON.parse(match[1]));
    buffered = buffered.slice(buffered.lastIndexOf("\\n\\n") + 2);
  }
})();
async function streamShows(a, b) {
  for (let waited = 0; waited < 20000; waited += 100) {
    if (streamed.some((tally) => tally.counts.a === a && tally.counts.b === b)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
// The first counts come once the web service has created the table in the new database.
const opened = await streamShows(0, 0);
const voterA = await newVoter();
const voterB = await newVoter();
const votes = [await vote(voterA, "a"), await vote(voterB, "b")];
const oneEach = await streamShows(1, 1);
votes.push(await vote(voterA, "b"));
const bothDogs = await streamShows(0, 2);
const reloaded = await (await fetchRetrying(base + "/results.json")).json();
const page = await (await fetchRetrying(base + "/results")).text();
console.log(JSON.stringify({ opened, votes, oneEach, bothDogs, streamed, reloaded, pageShows: page.includes('<td id="count-b">2</td>') }));
process.exit(0);
`;

/** Voters voting at once, in waves, each outcome printed with the vote it was for. */
const LOAD_SCRIPT = `${VOTER_LIBRARY}
const voters = Number(process.argv[3]);
const atOnce = Number(process.argv[4]);
const outcomes = [];
console.error("load started");
for (let first = 0; first < voters; first += atOnce) {
  await Promise.all(Array.from({ length: Math.min(atOnce, voters - first) }, async (_, index) => {
    const cookie = await newVoter();
    const choice = (first + index) % 3 === 0 ? "a" : "b";
    const outcome = await vote(cookie, choice);
    outcomes.push({ voter: cookie.split("=")[1], choice, ...outcome });
  }));
}
console.log(JSON.stringify(outcomes));
`;

interface FlowSeen {
  opened: boolean;
  votes: { status: number; location: string }[];
  oneEach: boolean;
  bothDogs: boolean;
  streamed: unknown[];
  reloaded: unknown;
  pageShows: boolean;
}

interface VoteOutcome {
  voter: string;
  choice: string;
  status: number;
  location: string;
}

// The voting app on the Swarm, from its funker.yml: Postgres and the web
// service as services of services: (deployed by `funker deploy`'s code, the
// database from the image docker/build-postgres-image.sh builds), and
// process-vote as a single-shot function: first the seed's own CommonJS
// handler as written in 2017 (seed/process-vote.cjs), then Funker's strict
// one, whose replicas are killed under load. Every name is this run's; the
// names the app uses (db, process-vote) are aliases on this run's network.
describe("the voting app on the Swarm, with Postgres", () => {
  const id = runId();
  const configFile = join(example, "funker.yml");
  const exampleConfig = parseConfig(readFileSync(configFile, "utf8"), configFile);
  const calledAs = new Map<string, string>();
  const rename = <Spec extends { name: string }>(spec: Spec): Spec => {
    calledAs.set(`${id}-${spec.name}`, spec.name);
    return { ...spec, name: `${id}-${spec.name}` };
  };
  const calledName = (spec: { name: string }): string => calledAs.get(spec.name) ?? spec.name;
  const strict = exampleConfig.functions.find((spec) => spec.name === "process-vote");
  if (strict === undefined) throw new Error("the voting app's funker.yml has process-vote");
  const processVote = `${id}-process-vote`;
  calledAs.set(processVote, "process-vote");
  // The handler answers to the name callers use (FUNKER_FUNCTION), though its service carries this run's.
  const strictSpec: FunctionSpec = { ...strict, name: processVote, environment: { ...strict.environment, FUNKER_FUNCTION: "process-vote" } };
  const seedSpec: FunctionSpec = {
    ...strictSpec,
    entry: join(example, "seed/process-vote.cjs"),
    // As written in 2017: a single-shot replica ends when the function's work
    // does, so the seed's write after its reply completes with no setting.
    environment: { FUNKER_FUNCTION: "process-vote" },
  };
  const stack: FunkerConfig = {
    ...exampleConfig,
    name: `${id}-voting`,
    network: `${id}-voting`,
    functions: [seedSpec],
    // Nothing published on the host: the caller container reaches the web service on the run's network.
    services: exampleConfig.services.map((spec) => ({ ...rename(spec), publish: undefined })),
  };
  const web = `${id}-web`;
  const db = `${id}-db`;
  const dbVolume = volumeName(stack, stack.services.find((spec) => spec.name === db)?.volumes[0] ?? { type: "volume", source: "db-data", target: "/", readOnly: false });
  const tag = (name: string): string => `funker-e2e/${name}:${id}`;
  const imageFor = (spec: FunctionSpec): string => (spec.entry === seedSpec.entry ? tag("voting-seed-process-vote") : tag("voting-process-vote"));
  const serviceImageFor = (spec: { name: string }): string | undefined => (spec.name === web ? tag("voting-web") : undefined);
  const progress: string[] = [];
  const output = { write: (text: string) => progress.push(text) };
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-e2e-"));

  /** The rows of the votes table, read in the database's own container. */
  async function storedVotes(): Promise<Map<string, string>> {
    const container = (await docker(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${db}`])).trim().split("\n")[0] ?? "";
    const rows = await docker(["exec", container, "psql", "-U", "postgres", "-h", "127.0.0.1", "-At", "-F", " ", "-c", "SELECT id, vote FROM votes"]);
    return new Map(rows.trim().split("\n").filter((line) => line !== "").map((line) => line.split(" ") as [string, string]));
  }

  beforeAll(async () => {
    if (stack.services.find((spec) => spec.name === db)?.image !== POSTGRES_IMAGE) throw new Error(`funker.yml's db service no longer runs ${POSTGRES_IMAGE}`);
    const postgres = await dockerResult(["image", "inspect", POSTGRES_IMAGE]);
    if (postgres.code !== 0) throw new Error(`the image ${POSTGRES_IMAGE} is missing: build it with bash docker/build-postgres-image.sh (docker/setup-docker.sh does)`);
    // funker build of both process-votes: the seed's CommonJS file and Funker's TypeScript one, bundled with pg.
    const built = await buildImages({ ...stack, functions: [seedSpec, { ...strictSpec, name: `${processVote}-strict` }] }, { output, labels: { [TEST_LABEL]: id }, imageFor });
    if (!built.ok) throw new Error(built.message);
    // The web image from the example's Dockerfile, with dist/web.js bundled here from src/.
    const bundled = await bundleForImage({ entry: join(example, "src/web.ts"), outputFile: join(scratch, "dist/web.js"), workingDirectory: example });
    if (!bundled.ok) throw new Error(bundled.message);
    await docker(["build", "--tag", tag("voting-web"), "--label", `${TEST_LABEL}=${id}`, "--file", join(example, "Dockerfile"), scratch], { env: await buildEnvironment() });

    // The run's network, labelled so that clean-up after an aborted run finds it; funker deploy uses it as it is.
    await docker(["network", "create", "--driver", "overlay", "--attachable", "--label", `${TEST_LABEL}=${id}`, stack.network]);
    const deployed = await deployFunctions(stack, { output, imageFor, serviceImageFor, networkAliasesFor: (spec) => [calledName(spec)], waitMs: 120_000 });
    if (!deployed.ok) throw new Error(`${deployed.message}\n${progress.join("")}`);
  }, 600_000);

  afterAll(async () => {
    await removeFunctions(stack, { output });
    // The volume can go once no container of the database holds it.
    await waitFor(`the containers of ${db} to go`, async () => {
      const left = await docker(["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${db}`]);
      return left.trim() === "" ? true : undefined;
    }, 60_000).catch(() => undefined);
    await dockerResult(["volume", "rm", "-f", dbVolume]);
    await dockerResult(["network", "rm", stack.network]);
    await dockerResult(["image", "rm", "-f", tag("voting-web"), tag("voting-process-vote"), tag("voting-seed-process-vote")]);
    rmSync(scratch, { recursive: true, force: true });
    report("voting-app", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  }, 240_000);

  it("stores the votes the seed's own handler takes over HTTP, replaces a changed one, and streams the counts live", async () => {
    const run = await callerRun(stack.network, ["node", "--input-type=module", "-", `http://web:8080`], { input: FLOW_SCRIPT });
    expect(run.code, run.stderr).toBe(0);
    const seen = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as FlowSeen;
    expect(seen.opened, run.stderr).toBe(true);
    // The seed's handler replies nothing, before it writes: the page says "received".
    expect(seen.votes).toEqual([
      { status: 303, location: "/?voted=a&stored=no" },
      { status: 303, location: "/?voted=b&stored=no" },
      { status: 303, location: "/?voted=b&stored=no" },
    ]);
    expect(seen.oneEach, JSON.stringify(seen.streamed)).toBe(true);
    expect(seen.bothDogs, JSON.stringify(seen.streamed)).toBe(true);
    expect(seen.reloaded).toEqual({ counts: { a: 0, b: 2 }, total: 2 });
    expect(seen.pageShows).toBe(true);
    expect([...(await storedVotes()).values()]).toEqual(["b", "b"]);
    // The web service reached them by the names it uses, though the services carry this run's.
    const services = await docker(["service", "ls", "--filter", `label=io.funker.stack=${stack.name}`, "--format", "{{.Name}}"]);
    expect(services.trim().split("\n").sort()).toEqual([db, processVote, web].sort());
  });

  it("under load with replicas killed, stores every vote it acknowledged with Funker's strict process-vote, and reports the others as failed", async () => {
    const redeployed = await deployFunctions({ ...stack, functions: [strictSpec] }, { output, imageFor, only: [processVote], waitMs: 120_000 });
    expect(redeployed.ok, redeployed.ok ? "" : redeployed.message).toBe(true);
    // funker deploy returns once the replicas run; Swarm replaces the seed's ones in a rolling update, which may go on.
    await waitFor("the update to Funker's process-vote to complete", async () => {
      const state = await docker(["service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", processVote]);
      const images = await docker(["ps", "--filter", `label=com.docker.swarm.service.name=${processVote}`, "--format", "{{.Image}}"]);
      return state.trim() === "completed" && !images.includes("voting-seed-process-vote") ? true : undefined;
    }, 120_000);
    const before = await storedVotes();

    let loading = true;
    const load = callerRun(stack.network, ["node", "--input-type=module", "-", `http://web:8080`, "24", "6"], { input: LOAD_SCRIPT }).finally(() => (loading = false));
    // Kill a replica every second while the voters vote, three times, whatever it is doing
    // (a single-shot replica lives about a second, so one may exit as it is killed: the next is tried).
    let killed = 0;
    while (loading && killed < 3) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const running = (await docker(["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${processVote}`])).trim().split("\n").filter(Boolean);
      for (const container of running) {
        if ((await dockerResult(["kill", container])).code === 0) {
          killed += 1;
          break;
        }
      }
    }
    const run = await load;
    expect(run.code, run.stderr).toBe(0);
    const outcomes = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as VoteOutcome[];
    expect(outcomes).toHaveLength(24);
    expect(killed).toBeGreaterThan(0);

    const stored = await storedVotes();
    const acknowledged = outcomes.filter((outcome) => outcome.status === 303);
    const failed = outcomes.filter((outcome) => outcome.status !== 303);
    // Acknowledged means stored, with the vote the voter cast: nothing acknowledged is lost.
    for (const outcome of acknowledged) {
      expect(outcome.location).toBe(`/?voted=${outcome.choice}&stored=yes`);
      expect(stored.get(outcome.voter), `the acknowledged vote of ${outcome.voter}`).toBe(outcome.choice);
    }
    // A vote that failed was told so, in words that say whether it may have been counted.
    for (const outcome of failed) expect([502, 503, 504]).toContain(outcome.status);
    const newRows = [...stored.keys()].filter((voter) => !before.has(voter));
    expect(newRows.every((voter) => outcomes.some((outcome) => outcome.voter === voter))).toBe(true);
    report("voting-app under load", { votes: outcomes.length, acknowledged: acknowledged.length, failed: failed.length, storedOfFailed: failed.filter((outcome) => stored.has(outcome.voter)).length, replicasKilled: killed });
  });
});
