import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, buildImages, deployFunctions, removeFunctions, bundleForImage, FUNCTION_BASE_IMAGE, buildEnvironment, volumeName } from "../../packages/cli/src/internal.js";
import type { FunkerConfig } from "../../packages/cli/src/internal.js";
import { callerRun, docker, dockerResult, dockerRunOn, removeServices, report, runId, TEST_LABEL, waitFor, waitForReplicas } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));
const example = join(repository, "examples/voting-app");

/**
 * The script a caller container runs against the web service: it votes as a
 * browser would (the cookie from the ballot, form posts, redirects read by
 * hand) and prints what it saw as one JSON line.
 */
const VOTER_SCRIPT = `
const base = process.argv[2] ?? process.env.WEB_URL;
async function fetchRetrying(url, init) {
  // The web task runs, but its name may need a moment in the overlay DNS.
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
async function vote(cookie, option) {
  const response = await fetchRetrying(base + "/vote", {
    method: "POST", redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: "option=" + option,
  });
  return response.status + " " + (response.headers.get("location") ?? await response.text());
}
const first = await newVoter();
const second = await newVoter();
const votes = [await vote(first, "cats"), await vote(first, "dogs"), await vote(second, "Dogs"), await vote(second, "parrots")];
const results = await (await fetchRetrying(base + "/results.json")).json();
const page = await (await fetchRetrying(base + "/results")).text();
console.log(JSON.stringify({ votes, results, pageShowsCount: page.includes('<td id="count-cats">1</td>') }));
`;

// The voting app end to end on the Swarm: its funker.yml built and deployed
// by the CLI's own code (`funker build`, `funker deploy`): process-vote and
// tally as single-shot functions sharing the named volume funker.yml
// declares; the web service as a plain service; votes cast over HTTP from a
// caller container. Every name is this run's, so runs on one Swarm never
// meet: the stack, its network and volume, and the services
// (<run>-process-vote, <run>-tally), which Swarm names Swarm-wide. The web
// service still calls process-vote and tally, found as every caller finds
// them (tasks.<name>): on this run's network those names are aliases of this
// run's services, and the handlers answer to them (FUNKER_FUNCTION).
describe("the voting app on the Swarm", () => {
  const id = runId();
  const configFile = join(example, "funker.yml");
  const exampleConfig = parseConfig(readFileSync(configFile, "utf8"), configFile);
  const calledAs = new Map<string, string>();
  const stack: FunkerConfig = {
    ...exampleConfig,
    name: `${id}-voting`,
    network: `${id}-voting`,
    functions: exampleConfig.functions.map((spec) => {
      const service = `${id}-${spec.name}`;
      calledAs.set(service, spec.name);
      return { ...spec, name: service, environment: { ...spec.environment, FUNKER_FUNCTION: spec.name } };
    }),
  };
  const calledName = (spec: { name: string }): string => calledAs.get(spec.name) ?? spec.name;
  const volume = stack.functions[0]?.volumes[0];
  if (volume === undefined) throw new Error("the voting app's funker.yml declares its votes volume");
  const votesVolume = volumeName(stack, volume);
  const web = `${id}-voting-web`;
  const tag = (name: string): string => `funker-e2e/${name}:${id}`;
  const label = ["--label", `${TEST_LABEL}=${id}`];
  const progress: string[] = [];
  const output = { write: (text: string) => progress.push(text) };
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-e2e-"));

  beforeAll(async () => {
    // funker build of the example's funker.yml, under this run's tags.
    const built = await buildImages(stack, {
      output,
      labels: { [TEST_LABEL]: id },
      imageFor: (spec) => tag(`voting-${calledName(spec)}`),
    });
    if (!built.ok) throw new Error(built.message);

    // The web image from the example's Dockerfile, with dist/web.js bundled here from src/.
    const bundled = await bundleForImage({ entry: join(example, "src/web.ts"), outputFile: join(scratch, "dist/web.js"), workingDirectory: example });
    if (!bundled.ok) throw new Error(bundled.message);
    await docker(["build", "--tag", tag("voting-web"), ...label, "--file", join(example, "Dockerfile"), scratch], { env: await buildEnvironment() });

    // The run's network, labelled so that clean-up after an aborted run finds it; funker deploy uses it as it is.
    await docker(["network", "create", "--driver", "overlay", "--attachable", ...label, stack.network]);
    // funker deploy: both functions with VOTES_DIR and the
    // votes volume, which Swarm creates on first use. Nothing chowns it: the
    // image's /votes belongs to node, and Docker gives an empty new volume
    // that folder's ownership.
    const deployed = await deployFunctions(stack, {
      output,
      imageFor: (spec) => tag(`voting-${calledName(spec)}`),
      networkAliasesFor: (spec) => [calledName(spec)],
      waitMs: 120_000,
    });
    if (!deployed.ok) throw new Error(`${deployed.message}\n${progress.join("")}`);

    await docker([
      "service", "create", "--detach", "--name", web, "--network", stack.network, "--endpoint-mode", "dnsrr",
      "--init", "--no-resolve-image", ...label, tag("voting-web"),
    ]);
    await waitForReplicas(web, 1, 120_000);
  }, 600_000);

  afterAll(async () => {
    await removeFunctions(stack, { output });
    await removeServices([web]);
    // The volume can go once no container of the functions holds it.
    for (const spec of stack.functions) {
      await waitFor(`the containers of ${spec.name} to go`, async () => {
        const left = await docker(["ps", "-aq", "--filter", `label=com.docker.swarm.service.name=${spec.name}`]);
        return left.trim() === "" ? true : undefined;
      }, 60_000).catch(() => undefined);
    }
    await dockerResult(["volume", "rm", "-f", votesVolume]);
    await dockerResult(["network", "rm", stack.network]);
    await dockerResult(["image", "rm", "-f", tag("voting-web"), tag("voting-process-vote"), tag("voting-tally")]);
    rmSync(scratch, { recursive: true, force: true });
    report("voting-app", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  }, 240_000);

  it("records votes over HTTP, counts a voter once, refuses a bad vote, and keeps the votes on the shared volume", async () => {
    const run = await callerRun(stack.network, ["node", "--input-type=module", "-", `http://${web}:8080`], { input: VOTER_SCRIPT });
    expect(run.code, run.stderr).toBe(0);
    const seen = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as { votes: string[]; results: unknown; pageShowsCount: boolean };
    expect(seen.votes.slice(0, 3)).toEqual([
      "303 /results?vote=recorded&option=cats",
      "303 /results?vote=duplicate&option=cats",
      "303 /results?vote=recorded&option=dogs",
    ]);
    expect(seen.votes[3]).toMatch(/^400 [\s\S]*Please choose one of Cats or Dogs/);
    expect(seen.results).toEqual({ counts: { cats: 1, dogs: 1 }, total: 2 });
    expect(seen.pageShowsCount).toBe(true);
    // The web service reached them by the names it calls, though the services carry this run's.
    const services = await docker(["service", "ls", "--filter", `label=io.funker.stack=${stack.name}`, "--format", "{{.Name}}"]);
    expect(services.trim().split("\n").sort()).toEqual([`${id}-process-vote`, `${id}-tally`]);

    // The volume Swarm created took the owner of the image's /votes (node): nothing chowned it.
    const readVolume = ["sh", "-c", "stat -c %U:%G /votes && cat /votes/votes.jsonl"];
    const stored = await dockerRunOn(stack.network, ["--rm", ...label, "--volume", `${votesVolume}:/votes:ro`, FUNCTION_BASE_IMAGE, ...readVolume]);
    expect(stored.code, stored.stderr).toBe(0);
    const [owner, ...lines] = stored.stdout.trim().split("\n");
    expect(owner).toBe("node:node");
    expect(lines.map((line) => (JSON.parse(line) as { option: string }).option)).toEqual(["cats", "dogs"]);
  });
});
