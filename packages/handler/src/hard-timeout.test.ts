import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { printfEscapes } from "./hard-timeout.js";
import { HandlerOptionsError, resolveOptions } from "./options.js";
import { FramedCaller, frameError, legacyCall, legacyError, resultValue } from "../test-support/wire.js";
import { runFixture } from "../test-support/child.js";
import type { Child } from "../test-support/child.js";

// A function that never yields holds the event loop its own alarm needs: these
// tests run the built package in real processes, and let the limit kill them.

const TIMEOUT_MS = 1_000;
/** The documented margin (HARD_TIMEOUT_MARGIN_MS), plus room for a loaded machine: no timing is asserted tighter. */
const BOUND_MS = TIMEOUT_MS + 500 + 4_000;

async function portOf(child: Child): Promise<number> {
  return (await child.stdoutValue("port")) as number;
}

function hardTimeoutEnvironment(mode: "single-shot" | "reuse", hardTimeout: string): Record<string, string> {
  return { FUNKER_MODE: mode, FUNKER_TIMEOUT: `${TIMEOUT_MS}ms`, FUNKER_HARD_TIMEOUT: hardTimeout, FUNKER_LOG: "off" };
}

/** Waits for `promise`, or fails once `ms` have passed. */
async function within<Value>(ms: number, promise: Promise<Value>, what: string): Promise<Value> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("hardTimeout in single-shot mode", () => {
  it.each([1, 2] as const)("answers a framed version %i caller of a `while (true) {}` deadline_exceeded, and the process is killed", async (version) => {
    await using child = runFixture("serve", ["spin"], hardTimeoutEnvironment("single-shot", "on"));
    await using caller = await FramedCaller.open(await portOf(child), version);
    const id = caller.send({});
    const startedAt = Date.now();
    const reply = await within(BOUND_MS, caller.reply(), "the reply");
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(reply).toMatchObject({ type: "error", id });
    expect(frameError(reply)).toMatchObject({ code: "deadline_exceeded", message: expect.stringContaining(`timeout of ${TIMEOUT_MS} ms`) });
    expect(await within(BOUND_MS, child.exited, "the exit")).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("answers a 2017 caller (JSON, half-close) of a `while (true) {}` the legacy error body, and the process is killed", async () => {
    await using child = runFixture("serve", ["spin"], hardTimeoutEnvironment("single-shot", "true"));
    const reply = await within(BOUND_MS, legacyCall(await portOf(child), "{}"), "the reply");
    expect(legacyError(reply)).toMatchObject({ code: "deadline_exceeded", name: "FunkerError" });
    expect(await within(BOUND_MS, child.exited, "the exit")).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("stops 6 s of synchronous CPU at a 1 s limit", async () => {
    await using child = runFixture("serve", ["busy-cpu"], hardTimeoutEnvironment("single-shot", "on"));
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({ ms: 6_000 });
    // The sleeper armed for the call is there while it runs (the check the disarm test relies on can see one).
    const pid = child.process.pid as number;
    const givingUpAt = Date.now() + TIMEOUT_MS;
    while (sleepersOf(pid).length === 0 && Date.now() < givingUpAt) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sleepersOf(pid)).toHaveLength(1);
    expect(frameError(await within(BOUND_MS, caller.reply(), "the reply")).code).toBe("deadline_exceeded");
    expect((await child.exited).signal).toBe("SIGKILL");
  });

  it("is disarmed at the reply: a call within its time is answered, the process exits 0, and no sleeper is left", async () => {
    await using child = runFixture("serve", ["sleep"], hardTimeoutEnvironment("single-shot", "on"));
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({ ms: 10 });
    expect(resultValue(await caller.reply())).toBe("slept");
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(sleepersOf(child.process.pid as number)).toEqual([]);
  });

  it("off (the default), a `while (true) {}` holds the replica: no reply, and it runs on", async () => {
    await using child = runFixture("serve", ["spin"], hardTimeoutEnvironment("single-shot", "off"));
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({});
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 1_500));
    expect(caller.frames.filter((frame) => frame.type === "result" || frame.type === "error")).toEqual([]);
    expect(child.process.exitCode).toBeNull();
  });
});

/** Processes whose command line kills `pid`: the sleepers armed for it (Linux: read from /proc). */
function sleepersOf(pid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (commandLine.includes(`kill -9 ${pid}`)) found.push(commandLine);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe("hardTimeout in reuse mode", () => {
  it("answers the overrunning call deadline_exceeded; another call in flight ends with the process (its connection closes unanswered)", async () => {
    // The other call's time (timeout, 10 s) outlasts the spinning call's (its caller's deadline, 1 s).
    await using child = runFixture("serve", ["spin-or-sleep"], { ...hardTimeoutEnvironment("reuse", "on"), FUNKER_TIMEOUT: "10s", FUNKER_CONCURRENCY: "2" });
    const port = await portOf(child);
    await using other = await FramedCaller.open(port);
    other.send({ ms: 60_000 });
    // Accepted (HELLO) before the spinning call holds the process.
    await other.waitFor((frames) => frames.some((frame) => frame.type === "hello"));
    await using spinning = await FramedCaller.open(port);
    spinning.send({ spin: true }, { deadline: Date.now() + TIMEOUT_MS });
    expect(frameError(await within(BOUND_MS, spinning.reply(), "the reply"))).toMatchObject({ code: "deadline_exceeded", message: expect.stringContaining("the caller's deadline") });
    // What a Funker client reports as handler_crashed: the connection closed without a reply.
    await within(BOUND_MS, other.closed(), "the other call's close");
    expect(other.frames.filter((frame) => frame.type === "result" || frame.type === "error")).toEqual([]);
    expect(await within(BOUND_MS, child.exited, "the exit")).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("keeps serving after calls within their time, on a kept connection", async () => {
    await using child = runFixture("serve", ["spin-or-sleep"], hardTimeoutEnvironment("reuse", "on"));
    await using caller = await FramedCaller.open(await portOf(child));
    for (let call = 0; call < 3; call += 1) {
      caller.send({ ms: 1 });
      expect(resultValue(await caller.reply())).toBe("slept");
    }
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 700));
    caller.send({ ms: 1 });
    expect(resultValue(await caller.reply())).toBe("slept");
    expect(child.process.exitCode).toBeNull();
  });

  it("off (the default), a `while (true) {}` holds the process: no reply, and it runs on", async () => {
    await using child = runFixture("serve", ["spin-or-sleep"], hardTimeoutEnvironment("reuse", "off"));
    await using caller = await FramedCaller.open(await portOf(child));
    caller.send({ spin: true });
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 1_500));
    expect(caller.frames.filter((frame) => frame.type === "result" || frame.type === "error")).toEqual([]);
    expect(caller.ended).toBe(false);
    expect(child.process.exitCode).toBeNull();
  });
});

describe("the hardTimeout option", () => {
  it("is off by default, and read from FUNKER_HARD_TIMEOUT; the option in code wins", () => {
    expect(resolveOptions({}, {}).hardTimeout).toBe(false);
    expect(resolveOptions({}, { FUNKER_HARD_TIMEOUT: "on" }).hardTimeout).toBe(true);
    expect(resolveOptions({ hardTimeout: false }, { FUNKER_HARD_TIMEOUT: "1" }).hardTimeout).toBe(false);
    expect(() => resolveOptions({}, { FUNKER_HARD_TIMEOUT: "sometimes" })).toThrow(HandlerOptionsError);
    expect(() => resolveOptions({}, { FUNKER_HARD_TIMEOUT: "sometimes" })).toThrow(/FUNKER_HARD_TIMEOUT must be true or false/);
  });
});

describe("the sleeper's bytes", () => {
  it("come back from /bin/sh's printf exactly, every byte value, % and quotes included", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_value, index) => index);
    const written = execFileSync("/bin/sh", ["-c", `printf '${printfEscapes(bytes)}'`]);
    expect(Buffer.compare(written, Buffer.from(bytes))).toBe(0);
  });
});
