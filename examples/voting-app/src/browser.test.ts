import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./test-support/chromium.js";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const repositoryRoot = resolve(exampleRoot, "../..");
const funkerCli = join(repositoryRoot, "packages/cli/dist/bin.js");
const webProgram = join(exampleRoot, "dist/web.js");
/**
 * The whole app as a developer runs it: `funker dev` builds and supervises
 * the two functions (single-shot replicas, replaced after each call) and runs
 * the web service against them; a real Chromium votes.
 */
describe("the voting app in a real browser, under funker dev", () => {
  let dev: ChildProcess | undefined;
  let devOutput = "";
  let context: BrowserContext | undefined;
  let url = "";
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-browser-"));
  const votesDirectory = join(scratch, "votes");

  beforeAll(async () => {
    for (const built of [funkerCli, webProgram]) {
      if (!existsSync(built)) throw new Error(`${built} is missing: run \`npx turbo run build --filter=@funker/example-voting-app...\` (pnpm test does it)`);
    }
    // The votes volume is a folder of --volumes under funker dev: scratch/votes, named by VOTES_DIR.
    const devArgs = ["dev", "--no-watch", "--volumes", scratch, "-f", join(exampleRoot, "funker.yml")];
    dev = spawn(process.execPath, [funkerCli, ...devArgs, "--", process.execPath, webProgram], {
      cwd: repositoryRoot,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    dev.stderr?.on("data", (chunk: Buffer) => (devOutput += chunk.toString()));
    const exited = once(dev, "exit");
    url = await new Promise<string>((resolveUrl, reject) => {
      let stdout = "";
      const timer = setTimeout(() => reject(new Error(`the web service did not start within 120 s under funker dev:\n${devOutput}`)), 120_000);
      dev?.stdout?.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /voting app listening on (http:\/\/\S+)/.exec(stdout);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolveUrl(match[1]);
        }
      });
      void exited.then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`funker dev exited with code ${String(code)} before the web service listened:\n${devOutput}`));
      });
    });
    context = await launchChromium(join(scratch, "chromium-profile"));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (dev !== undefined && dev.exitCode === null && dev.signalCode === null) {
      const exited = once(dev, "exit");
      dev.kill("SIGTERM");
      // funker dev stops the web service and every replica before it exits.
      await Promise.race([exited, new Promise((resolveWait) => setTimeout(resolveWait, 20_000).unref())]);
      if (dev.exitCode === null && dev.signalCode === null) dev.kill("SIGKILL");
    }
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it("records a vote from the ballot and shows it on the results page", async () => {
    const page = await (context as BrowserContext).newPage();
    await page.goto(url);
    expect(await page.title()).toBe("Vote: Cats or Dogs?");
    await Promise.all([page.waitForURL(/\/results\?/), page.click("#vote-cats")]);
    expect(await page.textContent("#notice")).toContain("your vote for Cats is counted");
    expect(await page.textContent("#count-cats")).toBe("1");
    expect(await page.textContent("#percent-cats")).toBe("100%");
    expect(await page.textContent("#count-dogs")).toBe("0");
    expect(await page.textContent("#total")).toBe("1 vote in all.");
    await page.close();
  });

  it("counts a second vote with the same voter cookie once, and a new voter's vote", async () => {
    const page = await (context as BrowserContext).newPage();
    await page.goto(url);
    await Promise.all([page.waitForURL(/\/results\?/), page.click("#vote-dogs")]);
    expect(await page.textContent("#notice")).toContain("You have already voted, for Cats");
    expect(await page.textContent("#count-cats")).toBe("1");
    expect(await page.textContent("#count-dogs")).toBe("0");

    // Without the cookie the browser is a new voter.
    await (context as BrowserContext).clearCookies();
    await page.goto(url);
    await Promise.all([page.waitForURL(/\/results\?/), page.click("#vote-dogs")]);
    expect(await page.textContent("#notice")).toContain("your vote for Dogs is counted");
    expect(await page.textContent("#count-dogs")).toBe("1");
    expect(await page.textContent("#percent-dogs")).toBe("50%");
    expect(await page.textContent("#total")).toBe("2 votes in all.");
    await page.close();

    const lines = readFileSync(join(votesDirectory, "votes.jsonl"), "utf8").trimEnd().split("\n");
    expect(lines.map((line) => (JSON.parse(line) as { option: string }).option)).toEqual(["cats", "dogs"]);
  });
});
