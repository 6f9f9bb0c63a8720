import { createServer } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { framedCall, legacyCall, legacyError, resultValue } from "../test-support/wire.js";
import { freePort, runFixture } from "../test-support/child.js";
import type { Child } from "../test-support/child.js";

// The status port of real replicas, one process per mode (the built package).

interface Status {
  mode: string;
  starting: boolean;
  stopping: boolean;
  inFlight: number;
  capacity: number;
  free: number;
  callsServed: number;
  refused: number;
  uptimeMs: number;
}

async function replica(fixture: "serve" | "fresh", fn: string, env: Record<string, string>): Promise<{ child: Child; statusPort: number }> {
  const statusPort = await freePort();
  const child = runFixture(fixture, [fn], { FUNKER_STATUS_PORT: String(statusPort), FUNKER_QUEUE_TIMEOUT: "30s", ...env });
  return { child, statusPort };
}

/** GETs a path of the status port, waiting for the port to listen (it may come up a moment after the call port). */
async function get(statusPort: number, path: string, init: RequestInit = {}): Promise<Response> {
  const giveUpAt = Date.now() + 10_000;
  for (;;) {
    try {
      return await fetch(`http://127.0.0.1:${statusPort}${path}`, init);
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function status(statusPort: number): Promise<Status> {
  return (await (await get(statusPort, "/status")).json()) as Status;
}

/** Polls `/status` until `predicate` holds; returns that status. */
async function statusWhen(statusPort: number, predicate: (status: Status) => boolean, what: string): Promise<Status> {
  const giveUpAt = Date.now() + 20_000;
  for (;;) {
    const current = await status(statusPort);
    if (predicate(current)) return current;
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for ${what}; last status ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("the status port", () => {
  it("single-shot: reports its one free slot without taking it, then busy while the call runs", async () => {
    const { child, statusPort } = await replica("serve", "sleep", { FUNKER_MODE: "single-shot" });
    await using _child = child;
    const port = (await child.stdoutValue("port")) as number;
    for (let request = 0; request < 3; request += 1) {
      expect(await statusWhen(statusPort, (s) => !s.starting, "started")).toMatchObject({ mode: "single-shot", stopping: false, inFlight: 0, capacity: 1, free: 1, callsServed: 0, refused: 0 });
    }
    const health = await get(statusPort, "/healthz");
    expect([health.status, await health.text()]).toEqual([200, "ok\n"]);

    const reply = framedCall(port, { ms: 1_000 });
    expect(await statusWhen(statusPort, (s) => s.inFlight === 1, "the call running")).toMatchObject({ stopping: true, free: 0, capacity: 1 });
    expect((await get(statusPort, "/healthz")).status).toBe(503);
    // The status requests above took no call slot: the one call of this replica is served.
    expect(resultValue(await reply)).toBe("slept");
    expect(await child.exited).toEqual({ code: 0, signal: null });
  });

  it("reuse: free slots are concurrency minus calls in flight; /metrics counts calls by outcome, their durations and calls in flight", async () => {
    const { child, statusPort } = await replica("serve", "sleep", { FUNKER_MODE: "reuse", FUNKER_CONCURRENCY: "2" });
    await using _child = child;
    const port = (await child.stdoutValue("port")) as number;
    expect(await statusWhen(statusPort, (s) => !s.starting, "started")).toMatchObject({ mode: "reuse", inFlight: 0, capacity: 2, free: 2 });

    const first = framedCall(port, { ms: 1_500 });
    expect(await statusWhen(statusPort, (s) => s.inFlight === 1, "a call running")).toMatchObject({ free: 1, capacity: 2, stopping: false });
    const second = framedCall(port, { ms: 1_500 });
    expect(await statusWhen(statusPort, (s) => s.inFlight === 2, "two calls running")).toMatchObject({ free: 0, refused: 0 });
    expect(legacyError(await legacyCall(port, "{}")).code).toBe("unavailable");
    expect(await status(statusPort)).toMatchObject({ refused: 1 });
    expect([resultValue(await first), resultValue(await second)]).toEqual(["slept", "slept"]);
    expect(legacyError(await legacyCall(port, "not json")).code).toBe("bad_arguments");

    const after = await statusWhen(statusPort, (s) => s.callsServed === 3, "three calls served");
    expect(after).toMatchObject({ inFlight: 0, free: 2, refused: 1 });
    expect(after.uptimeMs).toBeGreaterThan(0);
    const metrics = await get(statusPort, "/metrics");
    expect(metrics.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await metrics.text();
    expect(text).toContain('funker_calls_total{outcome="ok"} 2\n');
    expect(text).toContain('funker_calls_total{outcome="error",code="bad_arguments"} 1\n');
    expect(text).toContain('funker_calls_total{outcome="error",code="unavailable"} 1\n');
    // The two sleeps took over a second; the refusal and the bad arguments far less.
    expect(text).toContain('funker_call_duration_seconds_bucket{le="1"} 2\n');
    expect(text).toContain('funker_call_duration_seconds_bucket{le="+Inf"} 4\n');
    expect(text).toContain("funker_call_duration_seconds_count 4\n");
    expect(text).toContain("funker_calls_in_flight 0\n");
    expect(text).toContain("# TYPE funker_call_duration_seconds histogram\n");
  });

  it("answers only GET and HEAD on its three paths", async () => {
    const { child, statusPort } = await replica("serve", "add", { FUNKER_MODE: "reuse" });
    await using _child = child;
    await child.stdoutValue("port");
    expect((await get(statusPort, "/status", { method: "POST", body: "{}" })).status).toBe(405);
    expect((await get(statusPort, "/admin")).status).toBe(404);
    const head = await get(statusPort, "/healthz", { method: "HEAD" });
    expect([head.status, await head.text()]).toEqual([200, ""]);
  });

  it("stops the replica with exit code 1 when its status port is taken, as for its call port", async () => {
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    try {
      const port = (taken.address() as { port: number }).port;
      await using child = runFixture("serve", ["add"], { FUNKER_MODE: "reuse", FUNKER_STATUS_PORT: String(port) });
      expect(await child.exited).toEqual({ code: 1, signal: null });
      expect(child.stderr.join("\n")).toContain(`cannot listen on the status port 127.0.0.1:${port}`);
    } finally {
      taken.close();
    }
  });

  it("fresh: the supervisor reports starting until a process waits, then free = processes waiting", async () => {
    const { child, statusPort } = await replica("fresh", "sleep", { FUNKER_MODE: "fresh", FUNKER_CONCURRENCY: "2", FIXTURE_SLOW_START_MS: "3000" });
    await using _child = child;
    expect(await status(statusPort)).toMatchObject({ mode: "fresh", starting: true, free: 0, capacity: 2 });
    expect((await get(statusPort, "/healthz")).status).toBe(503);

    const port = (await child.stdoutValue("port")) as number;
    expect(await statusWhen(statusPort, (s) => s.free === 2, "two processes waiting")).toMatchObject({ starting: false, inFlight: 0, capacity: 2 });
    const reply = framedCall(port, { ms: 1_000 });
    expect(await statusWhen(statusPort, (s) => s.inFlight === 1, "the call running")).toMatchObject({ free: 1 });
    expect(resultValue(await reply)).toBe("slept");
    await statusWhen(statusPort, (s) => s.callsServed === 1, "one call served");
    expect(await (await get(statusPort, "/metrics")).text()).toContain('funker_calls_total{outcome="ok"} 1\n');
  }, 30_000);
});
