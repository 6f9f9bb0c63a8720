import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { call } from "@funker/client";
import { freePort } from "@funker/testing";
import { describe, expect, it } from "vitest";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const handlerFile = resolve(exampleRoot, "handler.js");
// handler.js imports @funker/handler by name, which resolves to its built dist/ outside vitest.
const builtHandlerPackage = resolve(exampleRoot, "../../packages/handler/dist/index.js");

describe("examples/add-js", () => {
  it("answers a call with 3 as the seed's handler.js did, then exits 0", async () => {
    if (!existsSync(builtHandlerPackage)) {
      throw new Error(`${builtHandlerPackage} is missing: run \`npx turbo run build --filter=@funker/handler...\` (pnpm test does it)`);
    }
    const port = await freePort();
    const child = spawn(process.execPath, [handlerFile], {
      cwd: exampleRoot,
      env: { ...process.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_LOG: "off" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const exited = once(child, "close");
    try {
      // The client retries a refused connection until the deadline, so it waits for the process to listen.
      const sum = await call<number>("add", { x: 1, y: 2 }, { endpoints: [`127.0.0.1:${port}`], timeout: 15_000 });
      expect(sum).toBe(3);
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
