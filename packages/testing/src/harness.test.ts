import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { FunkerError } from "@funker/client";
import { startFunction } from "./index.js";

const fixtures = fileURLToPath(new URL("../test-fixtures/", import.meta.url));
const handlerDist = fileURLToPath(new URL("../../handler/dist/index.js", import.meta.url));

function requireBuild(): void {
  if (!existsSync(handlerDist)) throw new Error("@funker/handler is not built: run `pnpm build` (pnpm test does) before these tests");
}

async function refused(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ECONNREFUSED";
  } finally {
    socket.destroy();
  }
}

describe("startFunction in process", () => {
  it("serves the function on an ephemeral port with a client bound to it, and logs each call", async () => {
    await using add = await startFunction(({ x, y }: { x: number; y: number }) => x + y, { name: "add" });
    expect(await add.call({ x: 1, y: 2 })).toBe(3);
    expect(await add.call({ x: 5, y: 5 })).toBe(10);
    expect(add.logs).toHaveLength(2);
    expect(JSON.parse(add.logs[0] as string)).toMatchObject({ msg: "call", function: "add", outcome: "ok" });
  });

  it("reports the function's errors as a caller sees them", async () => {
    await using failing = await startFunction(() => {
      throw new RangeError("too big");
    });
    const error = await failing.call({}).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(FunkerError);
    expect(error).toMatchObject({ code: "handler_error", remoteName: "RangeError", message: "too big" });
    expect(JSON.parse(failing.logs[0] as string)).toMatchObject({ outcome: "error", code: "handler_error" });
  });

  it("frees its port when disposed, even when the test body throws", async () => {
    let port = 0;
    await expect(
      (async () => {
        await using running = await startFunction(() => 1);
        port = Number(running.endpoints[0]?.split(":")[1]);
        throw new Error("assertion failed inside the test");
      })(),
    ).rejects.toThrow("assertion failed");
    expect(port).toBeGreaterThan(0);
    expect(await refused(port)).toBe(true);
  });
});

describe("startFunction with child processes", () => {
  it("runs single-shot replicas that exit after each call and restart, as Docker does", async () => {
    requireBuild();
    await using add = await startFunction<{ x: number; y: number }, number>(`${fixtures}add.mjs`, { name: "add", replicas: 2 });
    const results: number[] = [];
    for (let index = 0; index < 6; index += 1) results.push(await add.call({ x: index, y: 1 }, { timeout: 10_000 }));
    expect(results).toEqual([1, 2, 3, 4, 5, 6]);
    // Every call ended its replica with exit code 0, and a fresh one took its place.
    await vi.waitFor(() => expect(add.exits.filter((exit) => exit.code === 0).length).toBeGreaterThanOrEqual(6), { timeout: 5_000 });
    expect(add.exits.every((exit) => exit.code === 0)).toBe(true);
    expect(add.logs.some((line) => line.includes('"msg":"call"'))).toBe(true);
  });

  it("answers concurrent calls to single-shot replicas, none lost to a replica that closes its listener", async () => {
    requireBuild();
    await using add = await startFunction<{ x: number; y: number }, number>(`${fixtures}add.mjs`, { name: "add", replicas: 2 });
    // Calls race for two replicas that each take one call and exit: the losers'
    // connections are reset unaccepted, and the client delivers them elsewhere.
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => add.call({ x: index, y: 100 }, { timeout: 20_000 })));
    expect(results).toEqual([100, 101, 102, 103, 104, 105, 106, 107]);
  });

  it("restarts a replica that crashes at start-up with a growing back-off, not a busy loop", async () => {
    requireBuild();
    await using broken = await startFunction(`${fixtures}crash-at-start.mjs`, { name: "broken" });
    const error = await broken.call({}, { timeout: 1_500 }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(FunkerError);
    expect(broken.exits.length).toBeGreaterThanOrEqual(2);
    // 100 ms doubling: within 1.5 s at most about 5 restarts, never hundreds.
    expect(broken.exits.length).toBeLessThan(10);
    expect(broken.exits.every((exit) => exit.code === 1)).toBe(true);
    expect(broken.logs.some((line) => line.includes("missing configuration"))).toBe(true);
  });

  it("reports a Node binary that cannot be started, and still closes", async () => {
    const broken = await startFunction(`${fixtures}add.mjs`, { name: "add", nodePath: "/nonexistent/node" });
    await vi.waitFor(() => expect(broken.exits.length).toBeGreaterThanOrEqual(1), { timeout: 5_000 });
    expect(broken.logs.join("\n")).toContain("could not start");
    await broken.close();
  });

  it("stops every replica on close", async () => {
    requireBuild();
    const add = await startFunction(`${fixtures}add.mjs`, { name: "add", replicas: 3 });
    expect(await add.call({ x: 1, y: 1 })).toBe(2);
    await add.close();
    for (const endpoint of add.endpoints) expect(await refused(Number(endpoint.split(":")[1]))).toBe(true);
  });
});

describe("fakes without a test framework", () => {
  it("work under node:test, with no dependency on vitest", () => {
    requireBuild();
    const run = spawnSync(process.execPath, ["--test", `${fixtures}node-test-app.test.mjs`], { encoding: "utf8", timeout: 30_000 });
    expect(run.stdout).toMatch(/# pass 1/);
    expect(run.status).toBe(0);
  });
});
