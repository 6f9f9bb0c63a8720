import { describe, expect, test } from "vitest";
import { handler } from "@funker/handler";
import type { FunctionServer, HandlerOptions } from "@funker/handler";
import { createClient } from "@funker/client";
import { MAX_TRACE_CONTEXT_LENGTH } from "@funker/protocol";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

/** A real handler, in this process, on a free loopback port. */
async function serve<Args, Result>(fn: (args: Args) => Result | Promise<Result>, options: Omit<HandlerOptions, "schema"> = {}): Promise<{ server: FunctionServer; endpoint: string }> {
  const server = handler(fn as (args: unknown) => Result, { port: 0, host: "127.0.0.1", exit: false, log: false, ...options });
  track({ close: () => server.close() });
  const { host, port } = await server.ready;
  return { server, endpoint: `${host}:${port}` };
}

type Functions = { add: (args: { x: number; y: number }) => number };

describe("against the real handler", () => {
  test("the seed's call, typed", async () => {
    const { endpoint } = await serve((args: { x: number; y: number }) => args.x + args.y, { mode: "reuse" });
    const client = track(createClient<Functions>({ endpoints: { add: endpoint } }));
    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
  });

  test("reuse mode keeps the connection for the next call", async () => {
    let calls = 0;
    const { endpoint } = await serve(() => (calls += 1), { mode: "reuse" });
    const client = track(createClient({ endpoints: { count: endpoint } }));
    for (let index = 1; index <= 5; index += 1) await expect(client.call("count")).resolves.toBe(index);
  });

  test("calls racing a reuse-mode replica's idle close all succeed, none run twice, even when not idempotent", async () => {
    // An idle timeout of 1 ms: the replica closes each kept connection about when the next call is sent.
    let runs = 0;
    const { endpoint } = await serve(() => (runs += 1), { mode: "reuse", idleTimeout: 1 });
    const client = track(createClient({ endpoints: { count: endpoint }, retry: { initialBackoffMs: 1, maxBackoffMs: 5 } }));
    for (let index = 1; index <= 30; index += 1) await expect(client.call("count")).resolves.toBe(index);
    expect(runs).toBe(30);
  });

  test("large results in many reads, on several connections at once, arrive whole and each to its own call", async () => {
    // Every framed connection reads into one shared buffer: frames split across reads must be kept apart per connection.
    const { endpoint } = await serve((args: { n: number; size: number }) => String(args.n % 10).repeat(args.size) + `#${args.n}`, {
      mode: "reuse",
      concurrency: 8,
    });
    const client = track(createClient({ endpoints: { big: endpoint } }));
    for (let round = 0; round < 3; round += 1) {
      const sizes = [300_000, 70_000, 1_000_000, 5, 150_000, 65_536, 65_535, 200_000];
      const results = await Promise.all(sizes.map((size, n) => client.call("big", { n, size })));
      results.forEach((result, n) => expect(result).toBe(String(n % 10).repeat(sizes[n] as number) + `#${n}`));
    }
  });

  test("single-shot mode serves one call; the legacy protocol speaks to it too", async () => {
    const { endpoint } = await serve((args: { name: string }) => `hello ${args.name}`);
    const client = track(createClient({ endpoints: { greet: endpoint }, protocol: "legacy" }));
    await expect(client.call("greet", { name: "Ada" })).resolves.toBe("hello Ada");
  });

  test("a thrown error arrives with its name, message and data; the function ran", async () => {
    const { endpoint } = await serve(
      () => {
        throw Object.assign(new RangeError("x must be positive"), { data: { field: "x" } });
      },
      { mode: "reuse" },
    );
    const client = track(createClient({ endpoints: { check: endpoint } }));
    const error = await rejectionOf(client.call("check", { x: -1 }));
    expect(error.code).toBe("handler_error");
    expect(error.remote).toBe(true);
    expect(error.remoteName).toBe("RangeError");
    expect(error.message).toBe("x must be positive");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a replica serving another function answers not_found", async () => {
    const { endpoint } = await serve(() => 1, { mode: "reuse", name: "add" });
    const client = track(createClient({ endpoints: { subtract: endpoint } }));
    const error = await rejectionOf(client.call("subtract", {}));
    expect(error.code).toBe("not_found");
    expect(error.mayHaveRun).toBe(false);
  });

  test("a call header the handler would refuse is refused with bad_arguments before anything is sent", async () => {
    const lines: Record<string, unknown>[] = [];
    // Single-shot: the replica serves one connection in its life, so the call
    // that succeeds at the end is the first connection that reached it.
    const { server, endpoint } = await serve((args: { x: number; y: number }) => args.x + args.y, { log: (line) => lines.push(line) });
    const client = track(createClient({ endpoints: { add: endpoint } }));
    const refused = [
      { metadata: { retries: 3 } as unknown as Record<string, string> },
      { traceparent: "t".repeat(MAX_TRACE_CONTEXT_LENGTH + 1) },
      { heartbeatIntervalMs: 1.5 },
    ];
    for (const options of refused) {
      const error = await rejectionOf(client.call("add", { x: 1, y: 2 }, options));
      expect(error).toMatchObject({ code: "bad_arguments", mayHaveRun: false, remote: false });
    }
    const withBadDefaults = track(createClient({ endpoints: { add: endpoint }, metadata: { tenant: null } as unknown as Record<string, string> }));
    expect(await rejectionOf(withBadDefaults.call("add", { x: 1, y: 2 }))).toMatchObject({ code: "bad_arguments", mayHaveRun: false });

    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    expect(lines).toEqual([expect.objectContaining({ outcome: "ok" })]);
    expect(server.state.callsServed).toBe(1);
  });

  test("abort mid-call cancels the handler's context", async () => {
    let cancelled: () => void = () => {};
    const sawCancel = new Promise<void>((resolve) => {
      cancelled = resolve;
    });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const server = handler(
      (_args, context) =>
        new Promise((resolve) => {
          started();
          context.signal.addEventListener("abort", () => {
            cancelled();
            resolve(null);
          });
        }),
      { port: 0, host: "127.0.0.1", exit: false, log: false, mode: "reuse" },
    );
    track({ close: () => server.close() });
    const { host, port } = await server.ready;
    const client = track(createClient({ endpoints: { slow: `${host}:${port}` } }));
    const controller = new AbortController();
    const pending = rejectionOf(client.call("slow", {}, { signal: controller.signal }));
    await running;
    controller.abort();
    expect((await pending).code).toBe("cancelled");
    await sawCancel;
  });
});
