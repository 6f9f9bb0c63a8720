import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@funker/testing";
import { call2017WhenListening } from "@funker/test-utils";
import { createClient, FunkerError } from "@funker/client";
import { describe, expect, it } from "vitest";
import { add } from "./add.js";

const exampleRoot = fileURLToPath(new URL("..", import.meta.url));
const builtHandler = resolve(exampleRoot, "dist/handler.js");

describe("examples/add", () => {
  it("adds", () => {
    expect(add({ x: 1, y: 2 })).toBe(3);
  });

  it.each(["node", "python"] as const)("answers the 2017 %s caller with 3, then exits 0", async (caller) => {
    if (!existsSync(builtHandler)) throw new Error(`${builtHandler} is missing: run \`npx turbo run build --filter=@funker/example-add...\` (pnpm test does it)`);
    const port = await freePort();
    const server = spawn(process.execPath, [builtHandler], {
      env: { ...process.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const exited = once(server, "close");
    try {
      // The program cannot report when it listens: the call is retried while the port refuses.
      const reply = await call2017WhenListening("127.0.0.1", port, '{"x":1,"y":2}', caller);
      expect(reply).toEqual({ exitCode: 0, stdout: "3", stderr: "" });
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
    } finally {
      server.kill("SIGKILL");
    }
  });

  it("refuses arguments that do not match its schema with bad_arguments naming the field, and never adds them", async () => {
    if (!existsSync(builtHandler)) throw new Error(`${builtHandler} is missing: run \`npx turbo run build --filter=@funker/example-add...\` (pnpm test does it)`);
    const port = await freePort();
    const server = spawn(process.execPath, [builtHandler], {
      env: { ...process.env, FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_MODE: "reuse", FUNKER_LOG: "off" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    const client = createClient({ endpoints: { add: `127.0.0.1:${port}` }, timeout: 30_000 });
    try {
      // As `funker call add x=notanumber y=2` sends them: a value that is not JSON stays a string.
      const refused = await client.call("add", { x: "notanumber", y: 2 }).then(
        (result) => ({ result }),
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(FunkerError);
      expect(refused).toMatchObject({ code: "bad_arguments", mayHaveRun: false });
      expect((refused as FunkerError).message).toMatch(/ at x$/);
      expect((refused as FunkerError).data).toMatchObject({ issues: [{ path: ["x"] }] });
      await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    } finally {
      await client.close();
      server.kill("SIGKILL");
    }
  });
});
