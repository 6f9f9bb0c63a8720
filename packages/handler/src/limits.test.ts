import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { FramedCaller, frameError, framedCall, open, resultValue } from "../test-support/wire.js";
import { Child, packageRoot, requireBuilt, runFixture } from "../test-support/child.js";
import { defaultMaxConnections } from "./descriptors.js";

// The limits hold in real processes: these tests run the built package.

async function portOf(child: Child): Promise<number> {
  return (await child.stdoutValue("port")) as number;
}

/** Whether the handler has closed `socket` (bounded wait). */
async function closedByHandler(socket: Socket): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) return true;
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 2_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe("the connection limit (reuse mode)", () => {
  it("with FUNKER_MAX_CONNECTIONS=20 and 30 connections that send nothing, still serves a call: the oldest silent ones make room", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_MODE: "reuse", FUNKER_MAX_CONNECTIONS: "20" });
    const port = await portOf(child);
    const silent: Socket[] = [];
    try {
      for (let index = 0; index < 30; index += 1) silent.push(await open(port));
      expect(resultValue(await framedCall(port, { x: 1, y: 2 }))).toBe(3);
      const closed = await Promise.all(silent.map(closedByHandler));
      // 30 silent connections and the call's: the 11 oldest gave way, the rest stay open.
      expect(closed.slice(0, 11).every(Boolean)).toBe(true);
      expect(closed.slice(11).some(Boolean)).toBe(false);
    } finally {
      for (const socket of silent) socket.destroy();
    }
  });

  it("refuses a caller with a framed `unavailable` once every connection under the limit carries a call", async () => {
    await using child = runFixture("serve", ["hang"], { FUNKER_MODE: "reuse", FUNKER_MAX_CONNECTIONS: "2", FUNKER_CONCURRENCY: "3" });
    const port = await portOf(child);
    await using first = await FramedCaller.open(port);
    await using second = await FramedCaller.open(port);
    first.send({});
    second.send({});
    await expect.poll(() => child.stdout.filter((line) => line.includes("started")).length).toBe(2);
    const reply = await framedCall(port, {});
    expect(reply.type === "error" && reply.refused).toBe(true);
    expect(frameError(reply)).toMatchObject({ code: "unavailable", message: expect.stringContaining("limit of 2 connections") });
  });
});

describe("the connection limit (fresh mode)", () => {
  it("the supervisor refuses a caller with a framed `unavailable` once every connection under the limit carries a call", async () => {
    await using child = runFixture("fresh", ["hang"], { FUNKER_MODE: "fresh", FUNKER_MAX_CONNECTIONS: "2", FUNKER_QUEUE_TIMEOUT: "30s" });
    const port = await portOf(child);
    await using first = await FramedCaller.open(port);
    await using second = await FramedCaller.open(port);
    first.send({});
    second.send({});
    await first.waitFor((frames) => frames.some((frame) => frame.type === "hello"));
    await second.waitFor((frames) => frames.some((frame) => frame.type === "hello"));
    const reply = await framedCall(port, {});
    expect(reply.type === "error" && reply.refused).toBe(true);
    expect(frameError(reply)).toMatchObject({ code: "unavailable", message: expect.stringContaining("limit of 2 connections") });
  });
});

describe("running out of file descriptors", () => {
  it("is logged once, idle connections are closed to make room, and calls are served again", async () => {
    const script = `${packageRoot}test-fixtures/serve.mjs`;
    requireBuilt(`${packageRoot}dist/index.js`, "@funker/handler");
    // A limit of 64 descriptors, and a connection limit far above it: the process runs out of descriptors first.
    await using child = new Child(
      spawn("sh", ["-c", 'ulimit -n 64 && exec "$0" "$@"', process.execPath, script, "add"], {
        env: { ...process.env, FUNKER_HOST: "127.0.0.1", FUNKER_PORT: "0", FUNKER_MODE: "reuse", FUNKER_MAX_CONNECTIONS: "1000", FUNKER_LOG: "off", NODE_ENV: "" },
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    const port = await portOf(child);
    const silent: Socket[] = [];
    try {
      for (let index = 0; index < 100; index += 1) silent.push(await open(port));
      await expect.poll(() => child.stderr.filter((line) => line.includes("out of file descriptors")), { timeout: 5_000 }).toHaveLength(1);
      const line = JSON.parse(child.stderr.find((text) => text.includes("out of file descriptors")) as string) as Record<string, unknown>;
      expect(line).toMatchObject({ level: "error", msg: expect.stringContaining("(EMFILE)") });
      expect(line["message"]).toMatch(/connections holding no call closed to make room/);
      expect(resultValue(await framedCall(port, { x: 1, y: 2 }))).toBe(3);
    } finally {
      for (const socket of silent) socket.destroy();
    }
  });
});

describe("the default connection limit", () => {
  it("is three quarters of the open-file limit, at most 10,000", () => {
    expect(defaultMaxConnections(1_024)).toBe(768);
    expect(defaultMaxConnections(64)).toBe(48);
    expect(defaultMaxConnections(1_048_576)).toBe(10_000);
    expect(defaultMaxConnections(undefined)).toBe(10_000);
  });
});
