import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "./test-support/chromium.js";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const repositoryRoot = resolve(exampleRoot, "../..");
const funkerCli = join(repositoryRoot, "packages/cli/dist/bin.js");
const builtPrograms = [funkerCli, join(exampleRoot, "dist/web.js"), join(exampleRoot, "dist/dev-db.js")];

/** Resolves when the page shows these counts: the live stream updates it in place. */
async function showsCounts(page: Page, a: number, b: number): Promise<void> {
  // An expression evaluated in the page (where `document` is), not a function of this file.
  await page.waitForFunction(`document.getElementById("count-a")?.textContent === "${a}" && document.getElementById("count-b")?.textContent === "${b}"`, undefined, {
    timeout: 15_000,
  });
}

/**
 * The whole app as a developer runs it, from its own funker.yml: `funker dev`
 * starts the database (PGlite, as src/dev-db.ts serves it) and the web
 * service as services, and process-vote as single-shot replicas; a real
 * Chromium votes as two visitors while a third page watches the results.
 */
describe("the voting app in a real browser, under funker dev", () => {
  let dev: ChildProcess | undefined;
  let devOutput = "";
  let browser: Browser | undefined;
  let url = "";
  const scratch = mkdtempSync(join(tmpdir(), "voting-app-browser-"));

  beforeAll(async () => {
    for (const built of builtPrograms) {
      if (!existsSync(built)) throw new Error(`${built} is missing: run \`npx turbo run build --filter=@funker/example-voting-app...\` (pnpm test does it)`);
    }
    // The database's volume is a folder of scratch/ (--volumes); the web page gets a free port (--no-publish).
    const devArgs = ["dev", "--no-watch", "--no-publish", "--volumes", scratch, "-f", join(exampleRoot, "funker.yml")];
    dev = spawn(process.execPath, [funkerCli, ...devArgs], { cwd: repositoryRoot, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "ignore", "pipe"] });
    const exited = once(dev, "exit");
    url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`funker dev was not ready within 120 s:\n${devOutput}`)), 120_000);
      dev?.stderr?.on("data", (chunk: Buffer) => {
        devOutput += chunk.toString();
        // Ready once every replica and service listens; the web service said where.
        const address = /^web\s+\| voting app listening on (http:\/\/\S+)$/m.exec(devOutput)?.[1];
        if (address !== undefined && /^ready: /m.test(devOutput)) {
          clearTimeout(timer);
          resolveUrl(address);
        }
      });
      void exited.then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`funker dev exited with code ${String(code)} before it was ready:\n${devOutput}`));
      });
    });
    browser = await launchBrowser();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (dev !== undefined && dev.exitCode === null && dev.signalCode === null) {
      const exited = once(dev, "exit");
      dev.kill("SIGTERM");
      // funker dev stops the replicas, then the web service and the database, before it exits.
      await Promise.race([exited, new Promise((resolveWait) => setTimeout(resolveWait, 20_000).unref())]);
      if (dev.exitCode === null && dev.signalCode === null) dev.kill("SIGKILL");
    }
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);

  it("shows two visitors' votes on an open results page without a reload, a changed vote too, and keeps them on reload", async () => {
    const visitorA = await (browser as Browser).newContext();
    const visitorB = await (browser as Browser).newContext();
    const watcher = await (browser as Browser).newContext();
    try {
      const results = await watcher.newPage();
      await results.goto(`${url}/results`);
      expect(await results.title()).toBe("Results: Cats or Dogs?");
      await showsCounts(results, 0, 0);
      // Marks this load of the page: a reload would lose it.
      await results.evaluate("window.sameLoad = true");

      const pageA = await visitorA.newPage();
      await pageA.goto(url);
      expect(await pageA.title()).toBe("Vote: Cats or Dogs?");
      await Promise.all([pageA.waitForURL(/\?voted=a/), pageA.click("#vote-a")]);
      expect(await pageA.textContent("#notice")).toContain("Your vote is counted: Cats.");
      const pageB = await visitorB.newPage();
      await pageB.goto(url);
      await Promise.all([pageB.waitForURL(/\?voted=b/), pageB.click("#vote-b")]);

      await showsCounts(results, 1, 1);
      expect(await results.textContent("#percent-a")).toBe("50%");
      expect(await results.textContent("#total")).toBe("2 votes in all.");

      // A changes to Dogs: the same voter (cookie), so the vote is replaced, not added.
      await Promise.all([pageA.waitForURL(/\?voted=b/), pageA.click("#vote-b")]);
      await showsCounts(results, 0, 2);
      expect(await results.evaluate("window.sameLoad")).toBe(true);

      await results.reload();
      expect(await results.evaluate("window.sameLoad")).toBeUndefined();
      expect(await results.textContent("#count-a")).toBe("0");
      expect(await results.textContent("#count-b")).toBe("2");
      expect(await results.textContent("#percent-b")).toBe("100%");
    } finally {
      await Promise.all([visitorA.close(), visitorB.close(), watcher.close()]);
    }
  });
});
