import { connect } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { FrameDecoder, LEGACY_MARK, PREFACE, hasLegacyMark } from "@funker/protocol";
import { FramedCaller, deferred, frameError, framedCall, keepaliveTimerOn, legacyCall, legacyCallJson, legacyError, open, readAll, resultValue, serve } from "../test-support/wire.js";

/** Connects and reports the error code of a refused connection, or "connected". */
async function connectOutcome(port: number): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return "connected";
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? "unknown";
  } finally {
    socket.destroy();
  }
}

/** A function that holds its call until the test releases it. */
function gate() {
  const started = deferred();
  const release = deferred();
  const fn = async (args: { hold?: boolean; value?: unknown }) => {
    if (args.hold === true) {
      started.resolve();
      await release.promise;
    }
    return args.value ?? "done";
  };
  return { fn, started: started.promise, release: () => release.resolve() };
}

describe("single-shot mode", () => {
  it("refuses a second caller with ECONNREFUSED while the first is served", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn);
    await using first = await FramedCaller.open(server.port);
    first.send({ hold: true });
    await started;
    expect(server.server.state.status).toBe("busy");
    expect(await connectOutcome(server.port)).toBe("ECONNREFUSED");
    release();
    expect(resultValue(await first.reply())).toBe("done");
    await first.closed();
  });

  it("serves exactly one call, closes the connection and stops", async () => {
    await using server = await serve(() => "once");
    await using caller = await FramedCaller.open(server.port);
    caller.send({});
    const frame = await caller.reply();
    expect(resultValue(frame)).toBe("once");
    expect(frame.type === "result" && frame.keepAlive).toBe(false);
    await caller.closed();
    await server.server.closed;
    expect(server.server.state).toEqual({ status: "closed", inFlight: 0, callsServed: 1 });
    expect(await connectOutcome(server.port)).toBe("ECONNREFUSED");
  });
});

describe("reuse mode", () => {
  it("serves call after call and keeps a framed caller's connection", async () => {
    await using server = await serve((args: { n: number }) => args.n * 2, { mode: "reuse" });
    await using caller = await FramedCaller.open(server.port);
    for (const n of [1, 2, 3]) {
      caller.send({ n });
      const frame = await caller.reply();
      expect(resultValue(frame)).toBe(n * 2);
      expect(frame.type === "result" && frame.keepAlive).toBe(true);
    }
    expect(server.server.state).toMatchObject({ status: "idle", inFlight: 0, callsServed: 3 });
  });

  it("sends heartbeats and keeps the deadline for a later call on a kept connection", async () => {
    // A body that never settles holds its slot until drainTimeout: short here, so that the server closes soon after.
    await using server = await serve(async (args: { hold?: boolean }) => (args.hold === true ? new Promise(() => undefined) : "quick"), {
      mode: "reuse",
      drainTimeout: 100,
    });
    await using caller = await FramedCaller.open(server.port);
    caller.send({});
    expect(resultValue(await caller.reply())).toBe("quick");
    caller.frames.length = 0;
    const id = caller.send({ hold: true }, { heartbeatIntervalMs: 20, deadline: Date.now() + 1_000 });
    await caller.waitFor((frames) => frames.filter((frame) => frame.type === "heartbeat" && frame.id === id).length >= 3);
    expect(frameError(await caller.reply())).toMatchObject({ code: "deadline_exceeded" });
  });

  it("answers a new caller with unavailable while the only slot is busy (framed)", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using first = await FramedCaller.open(server.port);
    first.send({ hold: true });
    await started;
    await using second = await FramedCaller.open(server.port);
    const id = second.send({});
    const busy = await second.reply();
    expect(frameError(busy).code).toBe("unavailable");
    expect(busy.type === "error" && busy.id).toBe(id);
    await second.closed();
    release();
    expect(resultValue(await first.reply())).toBe("done");
  });

  it("answers a new legacy caller with the unavailable error object while busy", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using first = await FramedCaller.open(server.port);
    first.send({ hold: true });
    await started;
    expect(legacyError(await legacyCall(server.port, "{}")).code).toBe("unavailable");
    release();
    await first.reply();
  });

  it("answers a second call on a kept connection with unavailable and keeps the connection", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using kept = await FramedCaller.open(server.port);
    kept.send({});
    await kept.reply();
    await using holder = await FramedCaller.open(server.port);
    holder.send({ hold: true });
    await started;
    kept.send({});
    const busy = await kept.reply();
    expect(frameError(busy).code).toBe("unavailable");
    expect(busy.type === "error" && busy.keepAlive).toBe(true);
    release();
    expect(resultValue(await holder.reply())).toBe("done");
    kept.send({ value: "again" });
    expect(resultValue(await kept.reply())).toBe("again");
  });

  it("never lets an idle kept connection block another caller", async () => {
    await using server = await serve((args: { value: string }) => args.value, { mode: "reuse" });
    await using idle = await FramedCaller.open(server.port);
    idle.send({ value: "first" });
    await idle.reply();
    expect(await legacyCallJson(server.port, '{"value":"second"}')).toBe("second");
    expect(resultValue(await framedCall(server.port, { value: "third" }))).toBe("third");
  });

  it("runs up to `concurrency` calls at once", async () => {
    const started = [deferred(), deferred()];
    const release = deferred();
    let index = 0;
    await using server = await serve(
      async () => {
        started[index++]?.resolve();
        await release.promise;
        return "ok";
      },
      { mode: "reuse", concurrency: 2 },
    );
    await using first = await FramedCaller.open(server.port);
    await using second = await FramedCaller.open(server.port);
    first.send({});
    second.send({});
    await Promise.all(started.map((item) => item.promise));
    expect(server.server.state.inFlight).toBe(2);
    expect(frameError(await framedCall(server.port, {})).code).toBe("unavailable");
    release.resolve();
    expect(resultValue(await first.reply())).toBe("ok");
    expect(resultValue(await second.reply())).toBe("ok");
  });

  it("stops after maxCalls, closing kept connections", async () => {
    await using server = await serve(() => "ok", { mode: "reuse", maxCalls: 2 });
    await using caller = await FramedCaller.open(server.port);
    caller.send({});
    const first = await caller.reply();
    expect(first.type === "result" && first.keepAlive).toBe(true);
    caller.send({});
    const last = await caller.reply();
    expect(last.type === "result" && last.keepAlive).toBe(false);
    await caller.closed();
    await server.server.closed;
    expect(server.server.state).toEqual({ status: "closed", inFlight: 0, callsServed: 2 });
    expect(await connectOutcome(server.port)).toBe("ECONNREFUSED");
  });

  it("closes a kept connection after the idle timeout, saying so first with a refused error", async () => {
    await using server = await serve(() => "ok", { mode: "reuse", idleTimeout: 100 });
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({});
    await caller.reply();
    await caller.closed();
    // The HELLO, then the going-away error: a call sent meanwhile was not run.
    expect(id).toBeTruthy();
    expect(caller.frames).toMatchObject([
      { type: "hello", version: 2 },
      { type: "error", id: "", refused: true, keepAlive: false, error: { code: "unavailable" } },
    ]);
  });

  it("turns TCP keepalive on for a call without heartbeats, and spends nothing on it for calls with them", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using withHeartbeats = await FramedCaller.open(server.port);
    withHeartbeats.send({ hold: true }, { heartbeatIntervalMs: 10_000 });
    await started;
    expect(keepaliveTimerOn(server.port, withHeartbeats.socket.localPort as number)).toBe(false);
    release();
    await withHeartbeats.reply();
    // Idle between calls: the caller's keepalive and the idle timeout look after it.
    expect(keepaliveTimerOn(server.port, withHeartbeats.socket.localPort as number)).toBe(false);
    await using quiet = await FramedCaller.open(server.port);
    quiet.send({}, { heartbeatIntervalMs: 0 });
    await quiet.reply();
    expect(keepaliveTimerOn(server.port, quiet.socket.localPort as number)).toBe(true);
  });

  it("version 2: sends a HELLO naming the function as soon as it reads the preface, then only replies", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse", name: "test" });
    await using caller = await FramedCaller.open(server.port);
    caller.send({ hold: true }, { heartbeatIntervalMs: 0 });
    await started;
    await caller.waitFor((frames) => frames.length > 0);
    expect(caller.frames).toEqual([{ type: "hello", version: 2, authRequired: false, functionName: "test" }]);
    release();
    expect(resultValue(await caller.reply())).toBe("done");
    caller.send({}, { heartbeatIntervalMs: 0 });
    expect(resultValue(await caller.reply())).toBe("done");
    expect(caller.frames).toEqual([{ type: "hello", version: 2, authRequired: false, functionName: "test" }]);
  });

  it("version 2: the HELLO leaves before the call is even read", async () => {
    await using server = await serve(() => "ok", { mode: "reuse" });
    const socket = await open(server.port);
    try {
      const decoder = new FrameDecoder({ expectHello: true });
      const first = new Promise<unknown>((resolve) => socket.once("data", (chunk: Buffer) => resolve(decoder.push(chunk)[0])));
      socket.write(PREFACE);
      expect(await first).toMatchObject({ type: "hello", version: 2 });
    } finally {
      socket.destroy();
    }
  });

  it("version 1: accepts only the first call on a connection; later calls on the kept connection get just their reply", async () => {
    await using server = await serve((args: { n: number }) => args.n, { mode: "reuse" });
    await using caller = await FramedCaller.open(server.port, 1);
    const first = caller.send({ n: 1 }, { heartbeatIntervalMs: 0 });
    expect(resultValue(await caller.reply())).toBe(1);
    expect(caller.frames).toEqual([{ type: "heartbeat", id: first }]);
    caller.frames.length = 0;
    caller.send({ n: 2 }, { heartbeatIntervalMs: 0 });
    expect(resultValue(await caller.reply())).toBe(2);
    caller.send({ n: 3 }, { heartbeatIntervalMs: 0 });
    expect(resultValue(await caller.reply())).toBe(3);
    expect(caller.frames).toEqual([]);
  });

  it("marks an error for a call whose function never started as refused, and one from the function as not", async () => {
    await using server = await serve(
      (args: { fail: boolean }) => {
        if (args.fail) throw new Error("boom");
        return "ok";
      },
      { mode: "reuse", name: "test" },
    );
    await using caller = await FramedCaller.open(server.port);
    caller.send({ fail: false });
    await caller.reply();
    caller.send({ fail: true });
    expect(await caller.reply()).toMatchObject({ type: "error", refused: false, keepAlive: true, error: { code: "handler_error" } });
    caller.send({ fail: false }, { function: "other" });
    expect(await caller.reply()).toMatchObject({ type: "error", refused: true, error: { code: "not_found" } });
  });

  it("close() waits for the call in flight, then closes", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using caller = await FramedCaller.open(server.port);
    caller.send({ hold: true });
    await started;
    const closing = server.server.close();
    expect(await connectOutcome(server.port)).toBe("ECONNREFUSED");
    release();
    const frame = await caller.reply();
    expect(resultValue(frame)).toBe("done");
    expect(frame.type === "result" && frame.keepAlive).toBe(false);
    await closing;
  });
});

describe("a function that ignores its abort signal", () => {
  it("keeps its slot after its call was cancelled, and close() waits for it to return", async () => {
    const started = deferred();
    const release = deferred();
    let bodies = 0;
    await using server = await serve(
      async () => {
        bodies += 1;
        started.resolve();
        await release.promise;
        return "done";
      },
      { mode: "reuse", concurrency: 1 },
    );
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({});
    await started.promise;
    caller.cancel(id);
    expect(frameError(await caller.reply()).code).toBe("cancelled");
    expect(server.server.state).toMatchObject({ status: "busy", inFlight: 1 });
    expect(frameError(await framedCall(server.port, {})).code).toBe("unavailable");
    let closed = false;
    const closing = server.server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    release.resolve();
    await closing;
    expect(bodies).toBe(1);
    expect(server.server.state).toMatchObject({ status: "closed", inFlight: 0 });
  });
});

describe("heartbeats and cancellation", () => {
  it("sends heartbeats while the function runs", async () => {
    const release = deferred();
    await using server = await serve(async () => {
      await release.promise;
      return "ok";
    });
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({}, { heartbeatIntervalMs: 20 });
    await caller.waitFor((frames) => frames.filter((frame) => frame.type === "heartbeat").length >= 2);
    expect(caller.frames.filter((frame) => frame.type !== "hello").every((frame) => frame.type === "heartbeat" && frame.id === id)).toBe(true);
    release.resolve();
    expect(resultValue(await caller.reply())).toBe("ok");
  });

  it("version 1: sends no heartbeat beyond the one that accepts the call when the caller asks for none", async () => {
    await using server = await serve(async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return "ok";
    });
    await using caller = await FramedCaller.open(server.port, 1);
    const id = caller.send({}, { heartbeatIntervalMs: 0 });
    expect(resultValue(await caller.reply())).toBe("ok");
    expect(caller.frames).toEqual([{ type: "heartbeat", id }]);
  });

  it("version 1: accepts a call with a heartbeat before the function runs, so a caller can tell delivery", async () => {
    const started = deferred();
    const release = deferred();
    await using server = await serve(async () => {
      started.resolve();
      await release.promise;
      return "ok";
    });
    await using caller = await FramedCaller.open(server.port, 1);
    const id = caller.send({}, { heartbeatIntervalMs: 0 });
    await started.promise;
    await caller.waitFor((frames) => frames.length > 0);
    expect(caller.frames[0]).toEqual({ type: "heartbeat", id });
    release.resolve();
    expect(resultValue(await caller.reply())).toBe("ok");
  });

  it("version 1: does not accept a call it refuses before the function runs: the error is the first frame, and says refused", async () => {
    await using server = await serve(() => "never", { name: "add" });
    await using caller = await FramedCaller.open(server.port, 1);
    caller.send({}, { function: "sub" });
    const frame = await caller.reply();
    expect(frame).toMatchObject({ type: "error", refused: true, error: { code: "not_found" } });
    expect(caller.frames).toEqual([]);
  });

  it("fires the abort signal on a cancel frame and answers cancelled", async () => {
    const started = deferred();
    const aborted = deferred<unknown>();
    await using server = await serve((_args: unknown, context) => {
      started.resolve();
      context.signal.addEventListener("abort", () => aborted.resolve(context.signal.reason));
      return new Promise(() => undefined);
    }, { drainTimeout: 100 });
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({});
    await started.promise;
    caller.cancel(id, "user gave up");
    const frame = await caller.reply();
    expect(frameError(frame)).toMatchObject({ code: "cancelled" });
    expect(frameError(frame).message).toContain("user gave up");
    expect(await aborted.promise).toMatchObject({ code: "cancelled" });
  });

  it("answers cancelled on a cancel frame even when the function never reads its signal", async () => {
    const started = deferred();
    await using server = await serve(() => {
      started.resolve();
      return new Promise(() => undefined);
    }, { drainTimeout: 100 });
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({});
    await started.promise;
    caller.cancel(id);
    expect(frameError(await caller.reply())).toMatchObject({ code: "cancelled" });
  });

  it("gives a function that reads its signal only after a cancel an already aborted signal with the reason", async () => {
    const started = deferred();
    const readSignal = deferred();
    const seen = deferred<{ aborted: boolean; reason: unknown }>();
    await using server = await serve(async (_args: unknown, context) => {
      started.resolve();
      await readSignal.promise;
      seen.resolve({ aborted: context.signal.aborted, reason: context.signal.reason });
      return "late";
    });
    await using caller = await FramedCaller.open(server.port);
    const id = caller.send({});
    await started.promise;
    caller.cancel(id, "changed my mind");
    expect(frameError(await caller.reply())).toMatchObject({ code: "cancelled" });
    readSignal.resolve();
    const { aborted, reason } = await seen.promise;
    expect(aborted).toBe(true);
    expect(reason).toMatchObject({ code: "cancelled" });
  });

  it("ignores a cancel frame for another call id", async () => {
    const release = deferred();
    const started = deferred();
    await using server = await serve(async () => {
      started.resolve();
      await release.promise;
      return "finished";
    });
    await using caller = await FramedCaller.open(server.port);
    caller.send({});
    await started.promise;
    caller.cancel("some-other-call");
    release.resolve();
    expect(resultValue(await caller.reply())).toBe("finished");
  });
});

describe("a raw busy answer", () => {
  it("version 1: reads a framed busy answer without a call id when the caller sent only the preface", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using first = await FramedCaller.open(server.port);
    first.send({ hold: true });
    await started;
    const socket = await open(server.port);
    const reply = readAll(socket);
    socket.write(Buffer.from([0, 0x46, 0x55, 0x4e, 0x4b, 0x45, 0x52, 1]));
    const [frame] = new FrameDecoder({ version: 1 }).push(await reply);
    expect(frame === undefined ? undefined : frameError(frame).code).toBe("unavailable");
    release();
    await first.reply();
  });

  it("version 2: a busy answer is the HELLO, then the refused error", async () => {
    const { fn, started, release } = gate();
    await using server = await serve(fn, { mode: "reuse" });
    await using first = await FramedCaller.open(server.port);
    first.send({ hold: true });
    await started;
    const socket = await open(server.port);
    const reply = readAll(socket);
    socket.write(PREFACE);
    const frames = new FrameDecoder({ expectHello: true }).push(await reply);
    expect(frames).toMatchObject([{ type: "hello" }, { type: "error", id: "", refused: true, error: { code: "unavailable" } }]);
    release();
    await first.reply();
  });
});

describe("the legacy mark", () => {
  it("marks the reply to a marked 2017-format request, so a Funker caller learns this handler speaks framed; a 2017 caller's request gets a plain reply", async () => {
    await using server = await serve((args: { x: number; y: number }) => args.x + args.y, { mode: "reuse" });
    const marked = await legacyCall(server.port, Buffer.concat([Buffer.from(LEGACY_MARK), Buffer.from('{"x":1,"y":2}')]));
    expect(hasLegacyMark(marked)).toBe(true);
    expect(JSON.parse(marked.toString("utf8"))).toBe(3);
    const plain = await legacyCall(server.port, '{"x":1,"y":2}');
    expect(plain.toString("utf8")).toBe("3");
    const markedError = await legacyCall(server.port, Buffer.concat([Buffer.from(LEGACY_MARK), Buffer.from('{"x":')]));
    expect(hasLegacyMark(markedError)).toBe(true);
    expect(legacyError(markedError).code).toBe("bad_arguments");
  });
});
