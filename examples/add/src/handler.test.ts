import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@funker/testing";
import { describe, expect, it } from "vitest";
import { add } from "./add.js";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = resolve(exampleRoot, "../..");
// CI lays shared/ beside the repository clone, as on a developer's machine.
const legacyCaller = resolve(repoRoot, "../shared/legacy/call.py");
const builtHandler = resolve(exampleRoot, "dist/handler.js");

async function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stdout: stdout.trim() };
}

describe("examples/add", () => {
  it("adds", () => {
    expect(add({ x: 1, y: 2 })).toBe(3);
  });

  it("answers the 2017 Python caller with 3, then exits 0", async () => {
    if (!existsSync(builtHandler)) throw new Error(`${builtHandler} is missing: run \`npx turbo run build --filter=@funker/example-add...\` (pnpm test does it)`);
    if (!existsSync(legacyCaller)) throw new Error(`${legacyCaller} is missing: shared/ must sit beside the repository`);
    const port = await freePort();
    const server = spawn(process.execPath, [builtHandler], {
      env: { ...process.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = once(server, "close");
    try {
      // The program cannot report when it listens: retry while the port refuses (bounded).
      let reply = await run("python3", [legacyCaller, "127.0.0.1", String(port), '{"x":1,"y":2}']);
      for (let attempt = 0; attempt < 300 && reply.stdout.startsWith("ERR ConnectionRefusedError"); attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        reply = await run("python3", [legacyCaller, "127.0.0.1", String(port), '{"x":1,"y":2}']);
      }
      expect(reply).toEqual({ code: 0, stdout: "3" });
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      server.kill("SIGKILL");
    }
  });
});
