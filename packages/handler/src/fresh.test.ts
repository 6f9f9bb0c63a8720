import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseLogLine } from "@funker/handler/contract";
import { FramedCaller, framedCall, legacyCall, open, legacyCallJson, legacyError, frameError, resultValue } from "../test-support/wire.js";
import { Child, freePort, requireBuilt, runFixture } from "../test-support/child.js";

// Fresh mode runs real processes: a supervisor (the fixture) and the
// processes it forks from the same file. These tests run the built package.

/**
 * A fresh replica of a fixture function. Callers wait up to 30 s for a
 * process, not the default 1 s: a process start takes far longer than usual
 * on a loaded machine, and only the tests of the queue itself set its timeout.
 */
function fresh(fn: string, env: Record<string, string> = {}): Child {
  return runFixture("fresh", [fn], { FUNKER_MODE: "fresh", FUNKER_QUEUE_TIMEOUT: "30s", ...env });
}

async function portOf(child: Child): Promise<number> {
  return (await child.stdoutValue("port")) as number;
}

/** The call log lines the replica wrote (its processes' and the supervisor's share its stderr). */
function callLines(child: Child): Record<string, unknown>[] {
  return child.stderr.map((line) => parseLogLine(line)).filter((line) => line?.msg === "call") as Record<string, unknown>[];
}

/** Waits until `predicate` holds, polling; for lines a process writes after its reply. */
async function eventually(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The pids whose parent is `pid`, from /proc (Linux, as CI). */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (parent === pid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("fresh mode: a process per call", () => {
  it("serves every call, in both wire modes, in a process that served no other call, and logs one line per call", async () => {
    await using child = fresh("token");
    const port = await portOf(child);
    const replies: { token: string; callsHere: number; pid: number }[] = [];
    for (let call = 0; call < 3; call += 1) replies.push(resultValue(await framedCall(port, {})) as (typeof replies)[number]);
    for (let call = 0; call < 2; call += 1) replies.push((await legacyCallJson(port, "{}")) as (typeof replies)[number]);
    expect(new Set(replies.map((reply) => reply.token)).size).toBe(5);
    expect(replies.every((reply) => reply.callsHere === 1 && reply.pid !== child.process.pid)).toBe(true);
    await eventually(() => callLines(child).length === 5, "five call lines");
    expect(callLines(child).map((line) => [line["protocol"], line["outcome"]])).toEqual([
      ["framed", "ok"],
      ["framed", "ok"],
      ["framed", "ok"],
      ["legacy", "ok"],
      ["legacy", "ok"],
    ]);
  });

  it("copies large arguments and results both ways, for both wire modes", async () => {
    await using child = fresh("echo");
    const port = await portOf(child);
    const text = "x".repeat(4 * 1024 * 1024);
    expect(resultValue(await framedCall(port, { text }))).toEqual({ text });
    expect(await legacyCallJson(port, JSON.stringify({ text }))).toEqual({ text });
  });

  it("keeps `concurrency` processes waiting, and starts a replacement when one exits", async () => {
    await using child = fresh("token", { FUNKER_CONCURRENCY: "3" });
    await portOf(child);
    await eventually(() => childPids(child.process.pid as number).length === 3, "three processes");
    const before = childPids(child.process.pid as number);
    const { pid } = resultValue(await framedCall(await portOf(child), {})) as { pid: number };
    expect(before).toContain(pid);
    await eventually(() => !alive(pid), "the process that served to exit");
    await eventually(() => childPids(child.process.pid as number).length === 3, "three processes again");
    expect(childPids(child.process.pid as number)).not.toContain(pid);
  });

  it("keeps a process's slot until it exits, when it works on after its reply", async () => {
    await using child = fresh("work-after-reply", { FUNKER_CONCURRENCY: "1" });
    const port = await portOf(child);
    expect(resultValue(await framedCall(port, { ms: 400 }))).toBe("replied");
    // The only slot is held by a process still at work: this call waits for its replacement.
    expect(resultValue(await framedCall(port, { ms: 0 }))).toBe("replied");
    const afterReply = child.stdout.findIndex((line) => line.includes("afterReply"));
    expect(afterReply).toBeGreaterThanOrEqual(0);
    await eventually(() => callLines(child).length === 2, "two call lines");
  });

  it("makes a process that works on past drainTimeout exit, and says so", async () => {
    await using child = fresh("work-after-reply", { FUNKER_DRAIN_TIMEOUT: "300ms" });
    expect(resultValue(await framedCall(await portOf(child), { ms: 20_000 }))).toBe("replied");
    await eventually(() => child.stderr.some((line) => line.includes("left work running 300 ms after its call")), "the drain line");
    expect(child.stdout.some((line) => line.includes("afterReply"))).toBe(false);
  });
});

describe("fresh mode: limits and failures, enforced from outside the process", () => {
  it("kills a CPU-bound process past its time limit: deadline_exceeded in both wire modes, then serves the next call", async () => {
    await using child = fresh("spin", { FUNKER_TIMEOUT: "300ms" });
    const port = await portOf(child);
    const framed = await framedCall(port, { spin: true });
    expect(frameError(framed)).toMatchObject({ code: "deadline_exceeded", message: expect.stringContaining("timeout of 300 ms") });
    expect(framed.type === "error" && framed.refused).toBe(false);
    expect(legacyError(await legacyCall(port, '{"spin":true}')).code).toBe("deadline_exceeded");
    expect(resultValue(await framedCall(port, { spin: false }))).toBe("did not spin");
    expect(child.process.exitCode).toBeNull();
    await eventually(() => callLines(child).length === 3, "three call lines");
    expect(callLines(child).map((line) => line["code"] ?? line["outcome"])).toEqual(["deadline_exceeded", "deadline_exceeded", "ok"]);
  });

  it("holds a CPU-bound call to the caller's deadline when it is the sooner one", async () => {
    await using child = fresh("spin");
    const startedAt = Date.now();
    const reply = await framedCall(await portOf(child), { spin: true }, { deadline: Date.now() + 300 });
    expect(frameError(reply)).toMatchObject({ code: "deadline_exceeded", message: expect.stringContaining("the caller's deadline") });
    // Far below the function's own limit (60 s), with room for a loaded machine.
    expect(Date.now() - startedAt).toBeLessThan(20_000);
  });

  it("answers a call whose process exits midway with handler_crashed, and never dies with it", async () => {
    await using child = fresh("exit");
    const port = await portOf(child);
    expect(frameError(await framedCall(port, { exit: true }))).toMatchObject({ code: "handler_crashed", message: expect.stringContaining("exited with code 3") });
    expect(legacyError(await legacyCall(port, '{"exit":true}')).code).toBe("handler_crashed");
    expect(resultValue(await framedCall(port, { exit: false }))).toBe("did not exit");
    await eventually(() => callLines(child).length === 3, "three call lines");
  });

  it("lets a process answer its own uncaught exception with handler_crashed, as a single-shot replica does", async () => {
    await using child = fresh("throw-later");
    const error = frameError(await framedCall(await portOf(child), {}));
    expect(error).toMatchObject({ code: "handler_crashed", message: expect.stringContaining("thrown from a timer") });
    await eventually(() => callLines(child).length === 1, "one call line");
    expect(child.stderr.some((line) => line.includes('"msg":"uncaught exception"'))).toBe(true);
  });

  it("lets a process answer its own deadline when its event loop is free", async () => {
    await using child = fresh("hang", { FUNKER_TIMEOUT: "300ms" });
    expect(frameError(await framedCall(await portOf(child), {}))).toMatchObject({ code: "deadline_exceeded", message: "the call passed its deadline (timeout of 300 ms)" });
  });

  it("ends a process at its heap limit: handler_crashed, and the next call is served", async () => {
    await using child = fresh("grow-heap", { FUNKER_HEAP_LIMIT_MB: "32" });
    const port = await portOf(child);
    expect(frameError(await framedCall(port, { grow: true }, { deadline: Date.now() + 60_000 })).code).toBe("handler_crashed");
    expect(resultValue(await framedCall(port, { grow: false }))).toBe("did not grow");
  }, 60_000);

  it("tells the function the caller left, and serves the next caller", async () => {
    await using child = fresh("wait-for-abort");
    const port = await portOf(child);
    const caller = await FramedCaller.open(port);
    // Heartbeats say the call runs (version 2 sends them only when asked).
    caller.send({}, { heartbeatIntervalMs: 20 });
    await caller.waitFor((frames) => frames.some((frame) => frame.type === "heartbeat"));
    caller.socket.destroy();
    expect(await child.stdoutValue("aborted")).toBe("cancelled");
    expect(legacyError(await legacyCall(port, "not json")).code).toBe("bad_arguments");
  });

  it("passes a cancel and heartbeats through", async () => {
    await using child = fresh("wait-for-abort");
    await using caller = await FramedCaller.open(await portOf(child));
    const id = caller.send({}, { heartbeatIntervalMs: 20 });
    await caller.waitFor((frames) => frames.filter((frame) => frame.type === "heartbeat").length >= 3);
    caller.cancel(id, "enough");
    expect(frameError(await caller.reply())).toMatchObject({ code: "cancelled", message: "the caller cancelled the call: enough" });
  });

  it("holds callers until a process waits, within the queue timeout", async () => {
    await using child = fresh("sleep", { FUNKER_CONCURRENCY: "1" });
    const port = await portOf(child);
    const replies = await Promise.all([framedCall(port, { ms: 100 }), framedCall(port, { ms: 0 }), legacyCallJson(port, '{"ms":0}')]);
    expect([resultValue(replies[0]), resultValue(replies[1]), replies[2]]).toEqual(["slept", "slept", "slept"]);
  });

  it("refuses a caller with unavailable when no process frees up within the queue timeout", async () => {
    await using child = fresh("sleep", { FUNKER_CONCURRENCY: "1", FUNKER_QUEUE_TIMEOUT: "50ms" });
    const port = await portOf(child);
    const first = framedCall(port, { ms: 1_000 });
    const second = await framedCall(port, { ms: 0 });
    expect(frameError(second).code).toBe("unavailable");
    expect(second.type === "error" && second.refused).toBe(true);
    expect(resultValue(await first)).toBe("slept");
  });

  it("resets callers until its first process waits, as a replica that does not listen yet, and serves them after", async () => {
    const port = await freePort();
    await using child = fresh("add", { FUNKER_PORT: String(port), FIXTURE_SLOW_START_MS: "1500" });
    let resets = 0;
    for (;;) {
      // Refused while the port does not listen yet; reset once it does, until a process waits.
      const socket = await open(port).catch(() => undefined);
      if (socket === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      await using caller = new FramedCaller(socket);
      caller.send({ x: 1, y: 2 });
      await caller.closed().catch(() => undefined);
      if (caller.frames.length > 0) break;
      resets += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // The connection that got frames is the first after the start: a whole reply, HELLO first.
    expect(resets).toBeGreaterThan(0);
    expect(await portOf(child)).toBe(port);
    expect(resultValue(await framedCall(port, { x: 1, y: 2 }))).toBe(3);
  });

  it("refuses a caller whose process does not start within the queue timeout", async () => {
    await using child = fresh("sleep", { FUNKER_CONCURRENCY: "1", FUNKER_QUEUE_TIMEOUT: "100ms", FIXTURE_SLOW_START_MS: "3000" });
    const port = await portOf(child);
    expect(resultValue(await framedCall(port, { ms: 0 }))).toBe("slept");
    // Its replacement needs 3 s to start.
    const refused = await framedCall(port, { ms: 0 });
    expect(frameError(refused).code).toBe("unavailable");
    expect(refused.type === "error" && refused.refused).toBe(true);
  });
});

describe("fresh mode: the replica's process", () => {
  it("finishes the call in progress on SIGTERM, refuses new callers, and exits 0", async () => {
    await using child = fresh("sleep");
    const port = await portOf(child);
    const reply = framedCall(port, { ms: 500 });
    await eventually(() => childPids(child.process.pid as number).length === 2, "two processes");
    await new Promise((resolve) => setTimeout(resolve, 100));
    child.process.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(port, "127.0.0.1");
      probe.once("error", () => resolve(true));
      probe.once("connect", () => {
        probe.destroy();
        resolve(false);
      });
    });
    expect(refused).toBe(true);
    expect(resultValue(await reply)).toBe("slept");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("gives its processes only the variables childEnv lists, besides Funker's own", async () => {
    await using everything = fresh("environment", { FIXTURE_SECRET: "s3cret" });
    expect(resultValue(await framedCall(await portOf(everything), {}))).toEqual({ secret: "s3cret", path: true, marker: null });
    await using listed = fresh("environment", { FIXTURE_SECRET: "s3cret", FUNKER_CHILD_ENV: "PATH" });
    expect(resultValue(await framedCall(await portOf(listed), {}))).toEqual({ secret: null, path: true, marker: null });
  });

  it("exits 1 when its processes cannot start at all", async () => {
    await using child = fresh("add", { FIXTURE_FAIL_IN_PROCESS: "1" });
    expect((await child.exited).code).toBe(1);
    expect(child.stderr.some((line) => line.includes("cannot start the function's processes"))).toBe(true);
  });

  it("exits 1 naming the variable when childEnv is not a list of names", async () => {
    await using child = fresh("add", { FUNKER_CHILD_ENV: "PATH,not-a-name" });
    expect((await child.exited).code).toBe(1);
    expect(child.stderr.join("\n")).toContain('FUNKER_CHILD_ENV) must be a comma-separated list of variable names: "not-a-name" is not a variable name');
  });

  it("accepts a queued caller itself, not at once but well within a caller's HELLO wait: HELLO to version 2, the first heartbeat to version 1", async () => {
    await using child = fresh("announce-then-hang", { FUNKER_CONCURRENCY: "1" });
    const port = await portOf(child);
    await using running = await FramedCaller.open(port);
    running.send({});
    await child.stdoutValue("running");
    expect(running.frames.map((frame) => frame.type)).toEqual(["hello"]);
    // The one process is busy: these callers wait in the supervisor's queue.
    await using queued = await FramedCaller.open(port);
    queued.send({});
    await using queuedVersion1 = await FramedCaller.open(port, 1);
    const id = queuedVersion1.send({});
    // Not accepted yet: a replica killed now leaves them free to go elsewhere, as nothing ran.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([queued.frames, queuedVersion1.frames]).toEqual([[], []]);
    // Then accepted while still queued (after ACCEPT_WHILE_QUEUED_MS), so that a version 2 caller does not take the replica for a 2017 one.
    await queued.waitFor((frames) => frames.some((frame) => frame.type === "hello"));
    await queuedVersion1.waitFor((frames) => frames.some((frame) => frame.type === "heartbeat" && frame.id === id));
    expect(queued.frames.map((frame) => frame.type)).toEqual(["hello"]);
    expect(queuedVersion1.frames.map((frame) => frame.type)).toEqual(["heartbeat"]);
  });

  it("leaves a caller whose call runs accepted when the supervisor is killed, so that it is never taken as not delivered", async () => {
    await using child = fresh("announce-then-hang");
    const port = await portOf(child);
    await using caller = await FramedCaller.open(port);
    caller.send({});
    await using callerVersion1 = await FramedCaller.open(port, 1);
    callerVersion1.send({});
    await eventually(() => child.stdout.filter((line) => line.includes('"running"')).length === 2, "both calls to run");
    child.process.kill("SIGKILL");
    await caller.closed();
    await callerVersion1.closed();
    // PROTOCOL.md 6.4: an accepted call that ends without a reply may have run.
    expect(caller.frames.map((frame) => frame.type)).toEqual(["hello"]);
    expect(callerVersion1.frames.map((frame) => frame.type)).toEqual(["heartbeat"]);
  });

  it("takes its waiting processes with it when it is killed", async () => {
    await using child = fresh("add");
    await portOf(child);
    await eventually(() => childPids(child.process.pid as number).length === 2, "two processes");
    const processes = childPids(child.process.pid as number);
    child.process.kill("SIGKILL");
    await child.exited;
    await eventually(() => processes.every((pid) => !alive(pid)), "the processes to exit");
  });

  it("writes the ready line on the descriptor FUNKER_READY_FD names, once it takes calls", async () => {
    const fixture = fileURLToPath(new URL("../test-fixtures/fresh.mjs", import.meta.url));
    requireBuilt(fileURLToPath(new URL("../dist/index.js", import.meta.url)), "@funker/handler");
    const spawned = spawn(process.execPath, [fixture, "add"], {
      env: { ...process.env, FUNKER_MODE: "fresh", FUNKER_HOST: "127.0.0.1", FUNKER_PORT: "0", FUNKER_READY_FD: "3" },
      stdio: ["ignore", "pipe", "pipe", "pipe"],
    });
    await using child = new Child(spawned);
    const [chunk] = (await once(spawned.stdio[3] as NodeJS.ReadableStream, "data")) as [Buffer];
    expect(chunk.toString()).toBe("ready\n");
    expect(resultValue(await framedCall(await portOf(child), { x: 1, y: 2 }))).toBe(3);
  });
});
