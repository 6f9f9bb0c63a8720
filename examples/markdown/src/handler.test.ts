import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "@funker/client";
import { freePort } from "@funker/testing";
import { afterAll, describe, expect, it } from "vitest";
import { bundleForImage } from "../../../packages/cli/src/internal.js";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "funker-markdown-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("examples/markdown as its image runs it", () => {
  it("bundles into one file with marked, answers a call with HTML, then exits 0", async () => {
    const bundle = await bundleForImage({ entry: join(exampleRoot, "src/handler.ts"), outputFile: join(work, "handler.mjs"), workingDirectory: exampleRoot });
    if (!bundle.ok) throw new Error(bundle.message);
    const port = await freePort();
    // Run from an empty folder: the bundle must need nothing beside it.
    const child = spawn(process.execPath, [bundle.file], {
      cwd: work,
      env: { ...process.env, NODE_ENV: "production", FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_LOG: "off" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = once(child, "close");
    try {
      // The client retries a refused connection until the deadline, so it waits for the process to listen.
      const html = await call<string>("markdown", { markdown: "# Hi <script>x</script>" }, { endpoints: [`127.0.0.1:${port}`], timeout: 15_000 });
      expect(html).toBe("<h1>Hi &#60;script&#62;x&#60;/script&#62;</h1>\n");
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
