import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../packages/cli/src/config.js";
import { buildImages } from "../../packages/cli/src/docker/commands.js";
import { bundleForImage, FUNCTION_BASE_IMAGE } from "../../packages/cli/src/docker/image.js";
import { buildEnvironment } from "../../packages/cli/src/docker/run.js";
import { serviceCreateArgs } from "../../packages/cli/src/docker/service.js";
import { callerRun, docker, dockerResult, dockerRunOn, removeServices, report, runId, TEST_LABEL, waitForReplicas } from "./support.js";

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

// The voting app end to end on the Swarm: the web service as a plain
// service, process-vote and tally as single-shot functions sharing a named
// volume, voted on over HTTP from a caller container.
describe("the voting app on the Swarm", () => {
  const id = runId();
  const network = `${id}-voting`;
  const volume = `${id}-votes`;
  const services = { processVote: `${id}-process-vote`, tally: `${id}-tally`, web: `${id}-voting-web` };
  const tag = (name: string): string => `funker-e2e/${name}:${id}`;
  const label = ["--label", `${TEST_LABEL}=${id}`];
  const started = Date.now();
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-e2e-"));

  beforeAll(async () => {
    // funker build of the example's funker.yml, under this run's tags.
    const configFile = join(example, "funker.yml");
    const config = parseConfig(readFileSync(configFile, "utf8"), configFile);
    const built = await buildImages(config, {
      output: { write: () => true },
      labels: { [TEST_LABEL]: id },
      imageFor: (spec) => tag(`voting-${spec.name}`),
    });
    if (!built.ok) throw new Error(built.message);

    // The web image from the example's Dockerfile, with dist/web.js bundled here from src/.
    const bundled = await bundleForImage({ entry: join(example, "src/web.ts"), outputFile: join(scratch, "dist/web.js"), workingDirectory: example });
    if (!bundled.ok) throw new Error(bundled.message);
    await docker(["build", "--tag", tag("voting-web"), ...label, "--file", join(example, "Dockerfile"), scratch], { env: await buildEnvironment() });

    await docker(["network", "create", "--driver", "overlay", "--attachable", ...label, network]);
    // A fresh named volume belongs to root; the functions run as `node`.
    await docker(["volume", "create", ...label, volume]);
    const owned = await dockerRunOn(network, ["--rm", ...label, "--volume", `${volume}:/votes`, FUNCTION_BASE_IMAGE, "chown", "node:node", "/votes"]);
    if (owned.code !== 0) throw new Error(`chown of the votes volume failed: ${owned.stderr}`);

    for (const spec of config.functions) {
      const args = serviceCreateArgs(config, spec, { image: tag(`voting-${spec.name}`) });
      const image = args.pop() as string;
      // The service gets a run-specific name; the network alias gives it the
      // name the web service calls (tasks.process-vote), on this run's network only.
      args[args.indexOf("--name") + 1] = `${id}-${spec.name}`;
      args[args.indexOf("--network") + 1] = `name=${network},alias=${spec.name}`;
      args.push(...label, "--env", "VOTES_DIR=/votes", "--mount", `type=volume,source=${volume},target=/votes`, image);
      await docker(args);
    }
    await docker([
      "service", "create", "--detach", "--name", services.web, "--network", network, "--endpoint-mode", "dnsrr",
      "--init", "--no-resolve-image", ...label, tag("voting-web"),
    ]);
    for (const service of Object.values(services)) await waitForReplicas(service, service === services.web ? 1 : 2, 120_000);
  }, 600_000);

  afterAll(async () => {
    await removeServices(Object.values(services));
    await dockerResult(["volume", "rm", "-f", volume]);
    await dockerResult(["network", "rm", network]);
    await dockerResult(["image", "rm", "-f", tag("voting-web"), tag("voting-process-vote"), tag("voting-tally")]);
    rmSync(scratch, { recursive: true, force: true });
    report("voting-app", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  }, 240_000);

  it("records votes over HTTP, counts a voter once, refuses a bad vote, and keeps the votes on the shared volume", async () => {
    const run = await callerRun(network, ["node", "--input-type=module", "-", `http://${services.web}:8080`], { input: VOTER_SCRIPT });
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

    const stored = await dockerRunOn(network, ["--rm", ...label, "--volume", `${volume}:/votes:ro`, FUNCTION_BASE_IMAGE, "cat", "/votes/votes.jsonl"]);
    expect(stored.code, stored.stderr).toBe(0);
    expect(stored.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { option: string }).option)).toEqual(["cats", "dogs"]);
  });
});
