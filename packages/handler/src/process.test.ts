import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { FramedCaller, framedCall, legacyCall, legacyCallJson, legacyError, frameError, resultValue } from "../test-support/wire.js";
import { freePort, packageRoot, requireBuilt, runFixture, runNode } from "../test-support/child.js";
import { OLDEST_SUPPORTED_NODE, oldestNode } from "@funker/test-utils";
import type { Child } from "../test-support/child.js";

// Exit codes and signals need real processes: these tests run the built package.

async function portOf(child: Child): Promise<number> {
  return (await child.stdoutValue("port")) as number;
}

/** Calls a program that cannot report its port: retries while nothing listens yet (bounded). */
async function legacyCallWhenListening(port: number, body: string): Promise<unknown> {
  const givingUpAt = Date.now() + 15_000;
  for (;;) {
    try {
      return await legacyCallJson(port, body);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ECONNREFUSED" || Date.now() > givingUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

function callLogLines(child: Child): Record<string, unknown>[] {
  return child.stderr.map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe("the process (single-shot)", () => {
  it("runs the 2017 seed's example unchanged and exits 0 after the reply", async () => {
    const port = await freePort();
    await using child = runFixture("seed", [], { FUNKER_PORT: String(port) });
    expect(await legacyCallWhenListening(port, '{"x":1,"y":2}')).toBe(3);
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  const oldest = oldestNode();
  const nodes: [string, string][] = [[`Node ${process.versions.node} (this one)`, process.execPath]];
  if (oldest !== undefined) nodes.push([`Node ${OLDEST_SUPPORTED_NODE}, the oldest the package claims`, oldest]);
  it.each(nodes.flatMap(([what, node]) => ["seed-require", "seed-handle"].map((fixture) => [fixture, what, node] as const)))(
    "runs the seed's CommonJS handler.js (%s: require, funker.handler or funker.handle) on %s",
    async (fixture, _what, node) => {
      requireBuilt(`${packageRoot}dist/index.js`, "@funker/handler");
      const port = await freePort();
      await using child = runNode(`${packageRoot}test-fixtures/${fixture}.cjs`, [], { FUNKER_PORT: String(port) }, node);
      expect(await legacyCallWhenListening(port, '{"x":1,"y":2}')).toBe(3);
      expect(await child.exited).toEqual({ code: 0, signal: null });
      expect(child.stderr.join("\n")).not.toMatch(/ExperimentalWarning|require\(\) of ES Module/);
    },
  );

  it("lets work the function left running after its reply finish (the seed's process-vote calls back, then writes), then exits 0", async () => {
    const port = await freePort();
    const file = join(mkdtempSync(join(tmpdir(), "funker-background-")), "vote");
    await using child = runNode(`${packageRoot}test-fixtures/seed-background.cjs`, [], { FUNKER_PORT: String(port) });
    expect(await legacyCallWhenListening(port, JSON.stringify({ file }))).toBeNull();
    // The reply did not wait for the work: it is written 300 ms after the callback.
    expect(existsSync(file)).toBe(false);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(readFileSync(file, "utf8")).toBe("written");
  });

  it("ends a replica whose function left work running past drainTimeout, with 75 and a line saying what was pending", async () => {
    await using child = runFixture("serve", ["work-forever-after-reply"], { FUNKER_DRAIN_TIMEOUT: "300ms" });
    expect(resultValue(await framedCall(await portOf(child), {}))).toBe("replied");
    expect(await child.exited).toEqual({ code: 75, signal: null });
    const line = child.stderr.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry["msg"] !== "call");
    expect(line).toMatchObject({ level: "error", msg: expect.stringContaining("left work running 300 ms after its call"), message: expect.stringContaining("1 Timeout") });
  });

  it("cuts work left running after the reply short at the grace period on SIGTERM", async () => {
    await using child = runFixture("serve", ["work-forever-after-reply"], { FUNKER_GRACE: "200ms" });
    expect(resultValue(await framedCall(await portOf(child), {}))).toBe("replied");
    child.process.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 75, signal: null });
    expect(child.stderr.join("\n")).toContain("left work running");
  });

  it("exits 70 when work the function left running after its reply throws", async () => {
    await using child = runFixture("serve", ["throw-after-reply"]);
    expect(resultValue(await framedCall(await portOf(child), {}))).toBe("replied");
    expect(await child.exited).toEqual({ code: 70, signal: null });
    expect(child.stderr.join("\n")).toContain("thrown after the reply");
  });

  it("exits 0 after answering a failed call with a typed error", async () => {
    await using child = runFixture("serve", ["throws"]);
    const error = legacyError(await legacyCall(await portOf(child), "{}"));
    expect(error).toMatchObject({ code: "handler_error", name: "TypeError", message: "the function failed" });
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("answers deadline_exceeded for a function that never settles, then exits 0", async () => {
    await using child = runFixture("serve", ["hang"], { FUNKER_TIMEOUT: "300ms" });
    expect(frameError(await framedCall(await portOf(child), {})).code).toBe("deadline_exceeded");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("answers handler_crashed and exits 70 when the function throws asynchronously after returning", async () => {
    await using child = runFixture("serve", ["throw-later"]);
    const error = frameError(await framedCall(await portOf(child), {}));
    expect(error.code).toBe("handler_crashed");
    expect(error.message).toContain("thrown from a timer");
    expect(await child.exited).toEqual({ code: 70, signal: null });
    expect(child.stderr.some((line) => line.includes('"msg":"uncaught exception"'))).toBe(true);
  });

  it("answers handler_crashed and exits 70 on an unhandled rejection", async () => {
    await using child = runFixture("serve", ["reject-unhandled"]);
    expect(legacyError(await legacyCall(await portOf(child), "{}")).code).toBe("handler_crashed");
    expect(await child.exited).toEqual({ code: 70, signal: null });
  });

  it("exits 0 when the caller goes away without a call", async () => {
    await using child = runFixture("serve", ["add"]);
    const socket = connect(await portOf(child), "127.0.0.1");
    await once(socket, "connect");
    socket.destroy();
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("exits 1 with a message naming the variable when an option is invalid", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_TIMEOUT: "soon" });
    expect((await child.exited).code).toBe(1);
    expect(child.stderr.join("\n")).toContain("FUNKER_TIMEOUT");
  });

  it("exits 1 when the port is in use", async () => {
    await using first = runFixture("serve", ["add"]);
    const port = await portOf(first);
    await using second = runFixture("serve", ["add"], { FUNKER_PORT: String(port) });
    expect((await second.exited).code).toBe(1);
    expect(second.stderr.join("\n")).toContain("EADDRINUSE");
  });

  it("exits 0 at once on SIGTERM while idle", async () => {
    await using child = runFixture("serve", ["add"]);
    await portOf(child);
    child.process.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("finishes the call in progress on SIGTERM, then exits 0", async () => {
    await using child = runFixture("serve", ["finish-after-sigterm"]);
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({});
    await child.stdoutValue("started");
    child.process.kill("SIGTERM");
    expect(resultValue(await caller.reply())).toBe("finished");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("answers handler_crashed when the grace period ends before the call, then exits 0", async () => {
    await using child = runFixture("serve", ["hang"], { FUNKER_GRACE: "200ms" });
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({});
    await child.stdoutValue("started");
    child.process.kill("SIGTERM");
    expect(frameError(await caller.reply()).code).toBe("handler_crashed");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });
});

/** The stdout lines of a fixture that are JSON objects with `key`, in order. */
function stdoutValues(child: Child, key: string): unknown[] {
  return child.stdout.flatMap((line) => {
    try {
      const value = JSON.parse(line) as Record<string, unknown>;
      return key in value ? [value[key]] : [];
    } catch {
      return [];
    }
  });
}

// drainTimeout and the grace period default to the timeout (200 ms in these tests): tests not about them set them long.
describe("the process: a function that ignores its abort signal keeps its slot", () => {
  it("reuse: holds the only slot until the body returns, so no second body runs beside it", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_MODE: "reuse", FUNKER_CONCURRENCY: "1", FUNKER_TIMEOUT: "200ms", FUNKER_DRAIN_TIMEOUT: "30s" });
    const port = await portOf(child);
    expect(frameError(await framedCall(port, { ms: 1_500 })).code).toBe("deadline_exceeded");
    const busy = await framedCall(port, { ms: 0 });
    expect(busy).toMatchObject({ type: "error", refused: true, error: { code: "unavailable" } });
    await child.stdoutValue("bodyDone");
    expect(resultValue(await framedCall(port, { ms: 0 }))).toBe("done");
    expect(Math.max(...(stdoutValues(child, "running") as number[]))).toBe(1);
  });

  it("reuse: recycles itself when a body outlives drainTimeout: takes no more calls, finishes the others, exits 75", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_MODE: "reuse", FUNKER_CONCURRENCY: "2", FUNKER_DRAIN_TIMEOUT: "300ms" });
    const port = await portOf(child);
    const deaf = framedCall(port, { ms: 60_000 }, { deadline: Date.now() + 200 });
    await child.stdoutValue("running");
    const other = framedCall(port, { ms: 1_500 });
    expect(frameError(await deaf).code).toBe("deadline_exceeded");
    expect(resultValue(await other)).toBe("done");
    expect(await child.exited).toEqual({ code: 75, signal: null });
    expect(child.stderr.join("\n")).toMatch(/was still running 300 ms after its call ended \(deadline_exceeded\); the replica takes no more calls and exits 75/);
  });

  it("reuse: SIGTERM waits for a body still running after its call was answered", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_MODE: "reuse", FUNKER_TIMEOUT: "200ms", FUNKER_GRACE: "30s", FUNKER_DRAIN_TIMEOUT: "30s" });
    expect(frameError(await framedCall(await portOf(child), { ms: 1_000 })).code).toBe("deadline_exceeded");
    child.process.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(stdoutValues(child, "bodyDone")).toEqual([1_000]);
  });

  it("reuse: SIGTERM waits for such a body no longer than the grace period, and says so", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_MODE: "reuse", FUNKER_TIMEOUT: "200ms", FUNKER_GRACE: "300ms", FUNKER_DRAIN_TIMEOUT: "30s" });
    expect(frameError(await framedCall(await portOf(child), { ms: 60_000 })).code).toBe("deadline_exceeded");
    child.process.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stderr.join("\n")).toContain("1 function call(s) still running at the end of the grace period (300 ms)");
  });

  it("single-shot: does not exit mid-function after answering deadline_exceeded; the body finishes first", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_TIMEOUT: "200ms", FUNKER_DRAIN_TIMEOUT: "30s" });
    expect(frameError(await framedCall(await portOf(child), { ms: 800 })).code).toBe("deadline_exceeded");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(stdoutValues(child, "bodyDone")).toEqual([800]);
  });

  it("single-shot: a body that outlives drainTimeout after deadline_exceeded ends the replica with 75", async () => {
    await using child = runFixture("serve", ["deaf"], { FUNKER_TIMEOUT: "200ms", FUNKER_DRAIN_TIMEOUT: "300ms" });
    expect(frameError(await framedCall(await portOf(child), { ms: 60_000 })).code).toBe("deadline_exceeded");
    expect(await child.exited).toEqual({ code: 75, signal: null });
    expect(child.stderr.join("\n")).toContain("was still running 300 ms after its call ended (deadline_exceeded)");
  });
});

describe("the process (reuse mode)", () => {
  it("serves until maxCalls, then exits 0", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_MODE: "reuse", FUNKER_MAX_CALLS: "3" });
    const port = await portOf(child);
    for (const x of [1, 2, 3]) expect(await legacyCallJson(port, JSON.stringify({ x, y: 1 }))).toBe(x + 1);
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("logs one JSON line per call, without argument values or secrets", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_MODE: "reuse" });
    const port = await portOf(child);
    expect(await legacyCallJson(port, '{"x":1,"y":2,"password":"hunter2-legacy"}')).toBe(3);
    const frame = await framedCall(port, { x: 1, y: 1, secret: "hunter2-framed" }, { id: "call-with-auth", function: "add", auth: { keyId: "hunter2-key-id", timestamp: Date.now(), mac: new Uint8Array(32) }, metadata: { apiKey: "hunter2-metadata" } });
    expect(resultValue(frame)).toBe(2);
    expect(legacyError(await legacyCall(port, '{"x":')).code).toBe("bad_arguments");
    child.process.kill("SIGTERM");
    expect((await child.exited).code).toBe(0);
    const lines = callLogLines(child);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toEqual({ level: "info", msg: "call", id: expect.any(String), protocol: "legacy", durationMs: expect.any(Number), outcome: "ok" });
    expect(lines[1]).toEqual({ level: "info", msg: "call", id: "call-with-auth", function: "add", protocol: "framed", durationMs: expect.any(Number), outcome: "ok" });
    expect(lines[2]).toMatchObject({ level: "error", msg: "call", protocol: "legacy", outcome: "error", code: "bad_arguments" });
    expect(child.stderr.join("\n")).not.toContain("hunter2");
  });

  it("writes nothing to stderr when logging is off", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_LOG: "off" });
    expect(await legacyCallJson(await portOf(child), '{"x":1,"y":2}')).toBe(3);
    expect((await child.exited).code).toBe(0);
    expect(child.stderr).toEqual([]);
  });

  it("answers every kind of bad input with a typed error and at most one log line each, without crashing", async () => {
    await using child = runFixture("serve", ["add"], { FUNKER_MODE: "reuse", FUNKER_MAX_PAYLOAD: "1000", FUNKER_FUNCTION: "add" });
    const port = await portOf(child);
    const replies = [
      legacyError(await legacyCall(port, '{"x":1,')).code,
      legacyError(await legacyCall(port, Buffer.from([0x22, 0xc3, 0x28, 0x22]))).code,
      legacyError(await legacyCall(port, "x".repeat(5_000))).code,
      legacyError(await legacyCall(port, Buffer.from([0xff, 0xfe, 0x01, 0x02, 0x99]))).code,
      frameError(await framedCall(port, {}, { function: "subtract" })).code,
      frameError(await framedCall(port, "y".repeat(5_000), { function: "add" })).code,
    ];
    expect(replies).toEqual(["bad_arguments", "bad_arguments", "payload_too_large", "bad_arguments", "not_found", "payload_too_large"]);
    expect(await legacyCallJson(port, '{"x":1,"y":2}')).toBe(3);
    child.process.kill("SIGTERM");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const lines = callLogLines(child);
    expect(lines).toHaveLength(7);
    expect(lines.map((line) => line["code"] ?? "ok")).toEqual([...replies, "ok"]);
  });
});

describe("the process: what an error body shows the caller", () => {
  // Regression: every process started without NODE_ENV=production sent its stacks, absolute paths included.
  it("sends no stack and no file path without FUNKER_EXPOSE_STACKS, and keeps the name and message", async () => {
    await using child = runFixture("serve", ["read-x"], { FUNKER_MODE: "reuse", FUNKER_EXPOSE_STACKS: "" });
    const port = await portOf(child);
    const bodies = [legacyError(await legacyCall(port, "null")), frameError(await framedCall(port, null))];
    for (const body of bodies) {
      expect(body).toEqual({ code: "handler_error", name: "TypeError", message: "Cannot read properties of null (reading 'x')" });
      expect(JSON.stringify(body)).not.toContain(packageRoot);
      expect(JSON.stringify(body)).not.toMatch(/file:|\/[\w.-]+\/[\w.-]+\.m?js/);
    }
  });

  it("sends the stack, which names the function's file, with FUNKER_EXPOSE_STACKS set", async () => {
    await using child = runFixture("serve", ["read-x"], { FUNKER_EXPOSE_STACKS: "true" });
    const body = legacyError(await legacyCall(await portOf(child), "null"));
    expect(body).toMatchObject({ code: "handler_error", name: "TypeError", message: "Cannot read properties of null (reading 'x')" });
    expect(body.stack).toContain("TypeError: Cannot read properties of null");
    expect(body.stack).toContain(`${packageRoot}test-fixtures/serve.mjs`);
  });
});

describe("the process: a result JSON cannot carry", () => {
  // Regression: the cause read bad_arguments, blaming arguments that were fine.
  it.each([
    ["nan", "the top-level value is NaN, which JSON cannot carry"],
    ["bigint", "the top-level value is a BigInt, which JSON cannot carry"],
    ["cycle", "Converting circular structure to JSON"],
  ])("answers handler_error whose cause, bad_result, describes the result (%s), whatever the arguments", async (fixture, reason) => {
    await using child = runFixture("serve", [fixture], { FUNKER_MODE: "reuse" });
    const port = await portOf(child);
    const bodies = [
      legacyError(await legacyCall(port, "[1,2]")),
      legacyError(await legacyCall(port, '"hello"')),
      frameError(await framedCall(port, [1, 2])),
      frameError(await framedCall(port, "hello")),
    ];
    for (const body of bodies) {
      expect(body).toMatchObject({ code: "handler_error", message: expect.stringContaining("the result is not valid JSON: ") });
      expect(body.message).toContain(reason);
      expect(body.cause).toMatchObject({ name: "FunkerError", code: "bad_result", message: body.message });
      expect(JSON.stringify(body)).not.toContain("argument");
    }
  });
});
