import { afterEach, describe, expect, it, vi } from "vitest";
import { call, createClient, FunkerError } from "@funker/client";
import { handler } from "@funker/handler";
import type { FunctionServer } from "@funker/handler";
import { fakeFunctions } from "./index.js";

/** The error a promise rejects with, or a failure if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<FunkerError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(FunkerError);
  return outcome.error as FunkerError;
}

/** The fields of an error a caller can observe and act on. */
function observable(error: FunkerError) {
  return { code: error.code, mayHaveRun: error.mayHaveRun, remote: error.remote, remoteName: error.remoteName, message: error.message };
}

const servers: FunctionServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** A real function on a real port, and a real client bound to it: the behaviour the fake must reproduce. */
async function realFunction(name: string, fn: (args: never, context: never) => unknown) {
  const server = handler(fn as never, { name, mode: "reuse", port: 0, host: "127.0.0.1", exit: false, log: false });
  servers.push(server);
  const { port } = await server.ready;
  return createClient({ endpoints: { [name]: [`127.0.0.1:${port}`] }, timeout: 5_000 });
}

describe("fakeFunctions", () => {
  it("answers the default client's call without a network and records the call", async () => {
    using fake = fakeFunctions({ add: ({ x, y }: { x: number; y: number }) => x + y });
    expect(await call("add", { x: 1, y: 2 }, { metadata: { tenant: "t1" }, timeout: 2_000 })).toBe(3);
    const [recorded] = fake.callsTo("add");
    expect(recorded?.args).toEqual({ x: 1, y: 2 });
    expect(recorded?.metadata).toEqual({ tenant: "t1" });
    expect(recorded?.deliveries).toBe(1);
    expect(recorded?.outcome).toEqual({ ok: true, value: 3 });
    expect(recorded?.deadline).toBeGreaterThan(Date.now());
    expect(recorded?.deadline).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it("answers clients made by createClient too", async () => {
    using fake = fakeFunctions({ echo: (args: unknown) => args });
    await using client = createClient({ endpoints: { echo: ["127.0.0.1:1"] } });
    expect(await client.call("echo", { a: [1, "two"] })).toEqual({ a: [1, "two"] });
    expect(fake.calls).toHaveLength(1);
  });

  it("fails calls of a closed client, and calls already aborted, as the real client does", async () => {
    const implementation = vi.fn(() => 3);
    using _fake = fakeFunctions({ add: implementation });
    const client = createClient();
    await client.close();
    expect(await rejection(client.call("add", {}))).toMatchObject({ code: "cancelled", mayHaveRun: false });
    expect(await rejection(call("add", {}, { signal: AbortSignal.abort() }))).toMatchObject({ code: "cancelled", mayHaveRun: false });
    expect(implementation).not.toHaveBeenCalled();
  });

  it("puts the real client back on restore", async () => {
    const fake = fakeFunctions({ add: () => 3 });
    fake.restore();
    fake.restore();
    // Port 1 on loopback refuses: the real client reaches the network and fails there.
    await using client = createClient({ endpoints: { add: ["127.0.0.1:1"] }, timeout: 300 });
    const error = await rejection(client.call("add", {}));
    expect(error.code).not.toBe("not_found");
    expect(fake.calls).toHaveLength(0);
  });

  it("fails an unknown name with not_found, as the real client does after its grace", async () => {
    using _fake = fakeFunctions({});
    const fakeError = await rejection(call("nowhere", {}));
    const nowhere = async (): Promise<readonly string[]> => {
      throw Object.assign(new Error("no such name"), { code: "ENOTFOUND" });
    };
    await using real = createClient({ dns: { resolveAll: nowhere, lookup: nowhere }, notFoundGraceMs: 50, timeout: 2_000 });
    const realError = await rejection(real.call("nowhere", {}));
    expect(fakeError.code).toBe("not_found");
    expect({ code: fakeError.code, mayHaveRun: fakeError.mayHaveRun }).toEqual({ code: realError.code, mayHaveRun: realError.mayHaveRun });
  });

  it("reproduces a thrown error as the real handler and client deliver it", async () => {
    const failing = () => {
      throw new TypeError("x must be a number");
    };
    const real = await realFunction("check", failing);
    const realError = await rejection(real.call("check", {}));
    await real.close();
    using _fake = fakeFunctions({ check: failing });
    const fakeError = await rejection(call("check", {}));
    expect(observable(fakeError)).toEqual(observable(realError));
    expect(fakeError).toMatchObject({ code: "handler_error", remote: true, remoteName: "TypeError", mayHaveRun: true });
  });

  it("keeps the code of a FunkerError the function throws, as over the wire", async () => {
    const refusing = () => {
      throw new FunkerError("bad_arguments", "x is missing", { data: { field: "x" } });
    };
    const real = await realFunction("strict", refusing);
    const realError = await rejection(real.call("strict", {}));
    await real.close();
    using _fake = fakeFunctions({ strict: refusing });
    const fakeError = await rejection(call("strict", {}));
    expect(observable(fakeError)).toEqual(observable(realError));
    expect(fakeError.data).toEqual(realError.data);
  });

  it("returns results after a JSON round trip, as the wire does", async () => {
    const answer = () => ({ when: new Date(0), nothing: undefined, list: [undefined] });
    const real = await realFunction("dates", answer);
    const realValue = await real.call("dates", {});
    await real.close();
    using _fake = fakeFunctions({ dates: answer, none: () => undefined });
    expect(await call("dates", {})).toEqual(realValue);
    expect(await call("none", {})).toBeNull();
  });

  // Regression: the fake failed such a call with bad_arguments, where the real handler answers handler_error.
  it("answers a result JSON cannot carry as the real handler does: handler_error, caused by bad_result", async () => {
    const answer = () => ({ ratio: Number.NaN });
    const real = await realFunction("ratio", answer);
    const realError = await rejection(real.call("ratio", [1, 2]));
    await real.close();
    using _fake = fakeFunctions({ ratio: answer });
    const fakeError = await rejection(call("ratio", [1, 2]));
    expect(observable(fakeError)).toEqual(observable(realError));
    expect(fakeError).toMatchObject({ code: "handler_error", mayHaveRun: true, cause: { code: "bad_result" } });
    expect((fakeError.cause as Error).message).toBe((realError.cause as Error).message);
  });

  it("refuses arguments JSON cannot carry before anything runs, as the real client does", async () => {
    const implementation = vi.fn(() => 1);
    using fake = fakeFunctions({ f: implementation });
    const error = await rejection(call("f", { big: 1n }));
    expect(error).toMatchObject({ code: "bad_arguments", mayHaveRun: false });
    expect(implementation).not.toHaveBeenCalled();
    expect(fake.calls).toHaveLength(0);
  });

  it("refuses call options the wire would refuse (metadata that is not text, an over-long traceparent), before anything runs", async () => {
    const implementation = vi.fn(() => 1);
    using fake = fakeFunctions({ f: implementation });
    const badMetadata = await rejection(call("f", {}, { metadata: { tries: 3 as unknown as string } }));
    expect(badMetadata).toMatchObject({ code: "bad_arguments", mayHaveRun: false });
    const longTrace = await rejection(call("f", {}, { traceparent: "0".repeat(600) }));
    expect(longTrace).toMatchObject({ code: "bad_arguments", mayHaveRun: false });
    expect(implementation).not.toHaveBeenCalled();
    expect(fake.calls).toHaveLength(0);
  });

  it("fails the next calls with a scripted code, then recovers", async () => {
    using fake = fakeFunctions({ add: () => 3 }).fail("add", "handler_error", { times: 2, message: "db down" });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await rejection(call("add", {}));
      expect(error).toMatchObject({ code: "handler_error", message: "db down", remote: true, mayHaveRun: true });
    }
    expect(await call("add", {})).toBe(3);
    expect(fake.calls.map((recorded) => recorded.outcome?.ok)).toEqual([false, false, true]);
  });

  it("fails with a FunkerError of the test's own", async () => {
    const own = new FunkerError("unauthenticated", "token expired");
    using _fake = fakeFunctions({ secure: () => "ok" }).fail("secure", own);
    expect(await rejection(call("secure", {}))).toBe(own);
  });

  it("is busy N times then succeeds, without delivering the busy attempts", async () => {
    using fake = fakeFunctions({ add: () => 3 }).busy("add", 3);
    expect(await call("add", {}, { timeout: 5_000 })).toBe(3);
    expect(fake.callsTo("add")[0]?.deliveries).toBe(1);
  });

  it("stays busy until the deadline: the call fails and certainly did not run", async () => {
    const implementation = vi.fn(() => 3);
    using _fake = fakeFunctions({ add: implementation }).busy("add", 1_000_000);
    const error = await rejection(call("add", {}, { timeout: 200 }));
    expect(error).toMatchObject({ code: "deadline_exceeded", mayHaveRun: false });
    expect(implementation).not.toHaveBeenCalled();
  });

  it("is slow: the deadline passes during the call (deadline_exceeded, may have run)", async () => {
    using _fake = fakeFunctions({ add: () => 3 }).slow("add", 10_000);
    const error = await rejection(call("add", {}, { timeout: 100 }));
    expect(error).toMatchObject({ code: "deadline_exceeded", mayHaveRun: true });
  });

  it("is slow under fake timers: time advances only when the test says", async () => {
    vi.useFakeTimers();
    try {
      using _fake = fakeFunctions({ add: () => 3 }).slow("add", 5_000);
      let settled = false;
      const pending = call("add", {}, { timeout: 60_000 }).then((value) => {
        settled = true;
        return value;
      });
      await vi.advanceTimersByTimeAsync(4_000);
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1_001);
      expect(await pending).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it("passes the caller's abort to the function's signal and rejects with cancelled", async () => {
    let seenSignal: AbortSignal | undefined;
    using _fake = fakeFunctions({
      wait: (_args: unknown, context) => {
        seenSignal = context.signal;
        return new Promise(() => undefined);
      },
    });
    const controller = new AbortController();
    const pending = call("wait", {}, { signal: controller.signal, timeout: 5_000 });
    await vi.waitFor(() => expect(seenSignal).toBeDefined());
    controller.abort();
    expect(await rejection(pending)).toMatchObject({ code: "cancelled" });
    expect(seenSignal?.aborted).toBe(true);
  });

  it("crashes mid-call: handler_crashed for a plain call, a retry for an idempotent one", async () => {
    using fake = fakeFunctions({ add: () => 3 }).crash("add", { times: 2 });
    expect(await rejection(call("add", {}))).toMatchObject({ code: "handler_crashed", mayHaveRun: true });
    expect(await call("add", {}, { idempotent: true })).toBe(3);
    expect(fake.callsTo("add").map((recorded) => recorded.deliveries)).toEqual([1, 2]);
  });

  it("is typed with the client's function map", async () => {
    type Functions = { add: (args: { x: number; y: number }) => number };
    using fake = fakeFunctions<Functions>({ add: ({ x, y }) => x + y });
    await using client = createClient<Functions>();
    expect(await client.call("add", { x: 2, y: 5 })).toBe(7);
    expect(fake.callsTo("add")).toHaveLength(1);
  });

  it("forgets calls and scripts on reset", async () => {
    using fake = fakeFunctions({ add: () => 3 }).fail("add", "handler_error");
    fake.reset();
    expect(await call("add", {})).toBe(3);
    fake.reset();
    expect(fake.calls).toHaveLength(0);
  });
});
