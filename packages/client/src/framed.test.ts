import { describe, expect, test } from "vitest";
import { FrameType, FunkerError, MAX_PAYLOAD_BYTES_LIMIT, decodeJson, encodeError, encodeHeartbeat, encodeResult } from "@funker/protocol";
import type { CallFrame } from "@funker/protocol";
import { createClient } from "@funker/client";
import { timeLimitAdvice } from "./client.js";
import { TestServer, startFramedServer } from "./test-support/servers.js";
import { rejectionOf, startSilentChild, useCleanup } from "./test-support/harness.js";

const { track, trackChild } = useCleanup();

function argsOf(call: CallFrame): unknown {
  return decodeJson(call.body);
}

/** A raw frame with any type, header and body bytes. */
function rawFrame(type: number, header: object, body: Uint8Array): Uint8Array {
  const headerBytes = Buffer.from(JSON.stringify(header));
  const frame = Buffer.alloc(5 + 4 + headerBytes.length + body.length);
  frame.writeUInt8(type, 0);
  frame.writeUInt32BE(4 + headerBytes.length + body.length, 1);
  frame.writeUInt32BE(headerBytes.length, 5);
  headerBytes.copy(frame, 9);
  Buffer.from(body).copy(frame, 9 + headerBytes.length);
  return frame;
}

describe("framed calls", () => {
  test("the seed's call: add(x, y) returns the sum", async () => {
    const server = track(
      await startFramedServer({
        onCall(call, peer) {
          const { x, y } = argsOf(call) as { x: number; y: number };
          peer.send(encodeResult(call.id, x + y));
        },
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    await server.allClosed();
  });

  test("sends omitted arguments as {}, and the deadline, heartbeat interval, metadata and trace context", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, null)) }));
    const client = track(createClient({ endpoints: { echo: server.endpoint }, metadata: { tenant: "a", region: "x" }, heartbeatIntervalMs: 2000 }));
    const before = Date.now();
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await expect(client.call("echo", undefined, { timeout: 30_000, metadata: { region: "y" }, traceparent, tracestate: "k=v" })).resolves.toBeNull();
    const call = server.calls[0] as CallFrame;
    expect(argsOf(call)).toEqual({});
    expect(call.function).toBe("echo");
    expect(call.deadline).toBeGreaterThanOrEqual(before + 30_000);
    expect(call.deadline).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(call.heartbeatIntervalMs).toBe(2000);
    expect({ ...call.metadata }).toEqual({ tenant: "a", region: "y" });
    expect(call.traceparent).toBe(traceparent);
    expect(call.tracestate).toBe("k=v");
  });

  test("a remote error keeps its code, name, message, data and cause", async () => {
    const server = track(
      await startFramedServer({
        onCall(call, peer) {
          peer.send(
            encodeError(call.id, {
              code: "handler_error",
              name: "ValidationError",
              message: "x must be positive",
              data: { field: "x" },
              cause: { name: "RangeError", message: "-1 < 0", code: "E_RANGE" },
            }),
          );
        },
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", { x: -1, y: 2 }));
    expect(error.code).toBe("handler_error");
    expect(error.remote).toBe(true);
    expect(error.remoteName).toBe("ValidationError");
    expect(error.message).toBe("x must be positive");
    expect(error.data).toEqual({ field: "x" });
    expect(error.mayHaveRun).toBe(true);
    expect(error.cause).toBeInstanceOf(Error);
    expect((error.cause as Error).name).toBe("RangeError");
    expect((error.cause as Error & { code?: string }).code).toBe("E_RANGE");
    expect(server.calls).toHaveLength(1);
  });
});

describe("bad input and faults", () => {
  test("arguments JSON cannot carry fail with bad_arguments before connecting", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, 1)) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    for (const args of [{ x: 1n }, { f: () => 1 }, { n: Number.NaN }, new Map()]) {
      const error = await rejectionOf(client.call("add", args));
      expect(error.code).toBe("bad_arguments");
      expect(error.mayHaveRun).toBe(false);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic["self"] = cyclic;
    expect((await rejectionOf(client.call("add", cyclic))).code).toBe("bad_arguments");
    expect(server.accepted).toBe(0);
  });

  test("a malformed reply is a protocol_error and the function may have run", async () => {
    // A well-sized frame of a type no version of the protocol defines.
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(rawFrame(0x42, { id: call.id }, new Uint8Array())) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", { x: 1, y: 2 }));
    expect(error.code).toBe("protocol_error");
    expect(error.mayHaveRun).toBe(true);
    await server.allClosed();
  });

  test("a result that is not JSON is a protocol_error", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(rawFrame(FrameType.result, { id: call.id }, Buffer.from("{nope"))) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("protocol_error");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a reply truncated by the handler closing mid-frame is handler_crashed", async () => {
    const server = track(
      await startFramedServer({
        onCall(call, peer) {
          const frame = encodeResult(call.id, { big: "x".repeat(1000) });
          peer.socket.end(frame.subarray(0, frame.length - 10));
        },
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
    expect(error.message).toContain("in the middle of a reply");
  });

  test("an oversized reply is payload_too_large, refused before it all arrives", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "x".repeat(4096))) }));
    const client = track(createClient({ endpoints: { add: server.endpoint }, maxPayloadBytes: 1024 }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("payload_too_large");
    expect(error.mayHaveRun).toBe(true);
    await server.allClosed();
  });

  test("oversized arguments are payload_too_large before connecting, in both protocols", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, 1)) }));
    for (const protocol of ["framed", "legacy"] as const) {
      const client = track(createClient({ endpoints: { add: server.endpoint }, maxPayloadBytes: 10, protocol }));
      // Refused from the string's length alone, before its text is built; the exact size is checked once it is built.
      const error = await rejectionOf(client.call("add", "x".repeat(18)));
      expect(error).toMatchObject({ code: "payload_too_large", message: "the arguments are at least 20 bytes; the limit is 10", data: { atLeast: 20, limit: 10 }, mayHaveRun: false });
      const multibyte = await rejectionOf(client.call("add", "é".repeat(6)));
      expect(multibyte).toMatchObject({ code: "payload_too_large", message: "the arguments are 14 bytes; the limit is 10", data: { size: 14, limit: 10 }, mayHaveRun: false });
    }
    expect(server.accepted).toBe(0);
  });

  // Regression: 50 MiB of arguments were encoded whole (over a second) before the size check refused them.
  test("50 MiB of arguments are refused as payload_too_large before their text is built, and never sent", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, 1)) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    let laterEncoded = false;
    const args = { text: "x".repeat(50 * 1024 * 1024), later: { toJSON: () => (laterEncoded = true) } };
    const error = await rejectionOf(client.call("add", args));
    expect(error).toMatchObject({ code: "payload_too_large", mayHaveRun: false, data: { limit: 8 * 1024 * 1024 } });
    expect(error.message).toMatch(/^the arguments are at least \d+ bytes; the limit is 8388608$/);
    expect(laterEncoded).toBe(false);
    expect(server.accepted).toBe(0);
  });

  // Regression: JSON longer than V8's longest string escaped as a raw RangeError, or was called "nested too deeply".
  test("arguments whose JSON is longer than a JavaScript string can hold are payload_too_large, not sent", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, 1)) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    // What JSON.stringify throws when its text would pass V8's limit (building one costs over 512 MiB).
    const huge = { toJSON: () => { throw new RangeError("Invalid string length"); } };
    const error = await rejectionOf(client.call("add", { huge }));
    expect(error).toBeInstanceOf(FunkerError);
    expect(error).toMatchObject({ code: "payload_too_large", mayHaveRun: false, message: "the arguments are longer than a JavaScript string can hold; the limit is 8388608" });
    expect(error.message).not.toContain("nested");
    expect(server.accepted).toBe(0);
  });

  test("a payload limit out of range is refused when the client is created, as the protocol refuses it", () => {
    for (const maxPayloadBytes of [0, 2.5, MAX_PAYLOAD_BYTES_LIMIT + 1]) {
      expect(() => createClient({ maxPayloadBytes })).toThrow(new RangeError(`maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}`));
    }
  });

  test("a handler that accepts and never answers ends at the deadline, with a cancel frame", async () => {
    const server = track(await startFramedServer({ onCall: () => {} }));
    const client = track(createClient({ endpoints: { slow: server.endpoint }, heartbeatIntervalMs: 0 }));
    const error = await rejectionOf(client.call("slow", {}, { timeout: 300 }));
    expect(error.code).toBe("deadline_exceeded");
    // The limit that passed, and where it was set.
    expect(error.message).toBe('the call to "slow" passed its deadline waiting for a reply (its `timeout`, 300 ms)');
    expect(error.mayHaveRun).toBe(true);
    await server.until((s) => s.cancels.length === 1);
    expect(server.cancels[0]?.id).toBe(server.calls[0]?.id);
    await server.allClosed();
  });

  test("a missed deadline under the default time limit says the limit and how to set another", () => {
    expect(timeLimitAdvice({ ms: 60_000, isDefault: true })).toBe(" (the default, 60000 ms; a call's or a client's `timeout` option, in ms, sets another)");
  });

  test("a handler that closes without a reply is handler_crashed", async () => {
    const server = track(await startFramedServer({ onCall: (_call, peer) => peer.socket.end() }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a connection that ends before the handler accepted the call is delivered again, even when not idempotent", async () => {
    // The first connection ends before any HELLO, as a single-shot replica's
    // queued connections do when it closes its listener; the second is served.
    const server = track(
      await startFramedServer({
        dropBeforeHello: (connection) => connection === 1,
        onCall: (call, peer) => peer.send(encodeResult(call.id, "second")),
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint }, deadAddressMs: 1 }));
    expect(await client.call("add", {})).toBe("second");
    expect(server.calls).toHaveLength(1);
    expect(server.accepted).toBe(2);
  });

  test("a handler killed mid-call is handler_crashed, not a hang", async () => {
    const { child, port, received } = await startSilentChild();
    trackChild(child);
    const client = track(createClient({ endpoints: { work: `127.0.0.1:${port}` }, heartbeatIntervalMs: 0 }));
    const pending = rejectionOf(client.call("work", { n: 1 }, { timeout: 15_000 }));
    await received;
    child.kill("SIGKILL");
    const error = await pending;
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a reply for another call id is a protocol_error", async () => {
    const server = track(await startFramedServer({ onCall: (_call, peer) => peer.send(encodeResult("someone-else", 42)) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("protocol_error");
    expect(error.mayHaveRun).toBe(true);
    expect(error.message).toContain("someone-else");
  });

  test("a heartbeat for another call id is a protocol_error", async () => {
    const server = track(await startFramedServer({ onCall: (_call, peer) => peer.send(encodeHeartbeat("someone-else")) }));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    expect((await rejectionOf(client.call("add", {}))).code).toBe("protocol_error");
  });

  test("heartbeats then silence: handler_crashed after three missed intervals, long before the deadline", async () => {
    const server = track(
      await startFramedServer({
        onCall(call, peer) {
          peer.send(encodeHeartbeat(call.id));
          peer.send(encodeHeartbeat(call.id));
        },
      }),
    );
    const client = track(createClient({ endpoints: { work: server.endpoint }, heartbeatIntervalMs: 50 }));
    const error = await rejectionOf(client.call("work", {}, { timeout: 60_000 }));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
    expect(error.message).toContain("heartbeat");
  });

  test("heartbeats keep a long call alive past three intervals", async () => {
    const server = track(
      await startFramedServer({
        onCall(call, peer) {
          let beats = 0;
          const timer = setInterval(() => {
            beats += 1;
            if (beats <= 16) {
              peer.send(encodeHeartbeat(call.id));
              return;
            }
            clearInterval(timer);
            peer.send(encodeResult(call.id, "done"));
          }, 25);
          peer.socket.once("close", () => clearInterval(timer));
        },
      }),
    );
    const client = track(createClient({ endpoints: { work: server.endpoint }, heartbeatIntervalMs: 100 }));
    await expect(client.call("work", {})).resolves.toBe("done");
  });

  test("abort before the call starts: cancelled, nothing sent", async () => {
    const server = track(await startFramedServer({ onCall: () => {} }));
    const client = track(createClient({ endpoints: { work: server.endpoint } }));
    const error = await rejectionOf(client.call("work", {}, { signal: AbortSignal.abort() }));
    expect(error.code).toBe("cancelled");
    expect(error.mayHaveRun).toBe(false);
    expect(server.accepted).toBe(0);
  });

  test("abort during the call sends a cancel frame and rejects with cancelled", async () => {
    const server = track(await startFramedServer({ onCall: () => {} }));
    const client = track(createClient({ endpoints: { work: server.endpoint } }));
    const controller = new AbortController();
    const pending = rejectionOf(client.call("work", {}, { signal: controller.signal }));
    await server.until((s) => s.calls.length === 1);
    controller.abort(new Error("user left"));
    const error = await pending;
    expect(error.code).toBe("cancelled");
    expect(error.mayHaveRun).toBe(true);
    expect((error.cause as Error).message).toBe("user left");
    await server.until((s) => s.cancels.length === 1);
    expect(server.cancels[0]?.id).toBe(server.calls[0]?.id);
    await server.allClosed();
  });

  test("a server that reads the call and never answers a byte still ends at the deadline", async () => {
    const server = track(
      await TestServer.start((socket) => {
        socket.resume();
        socket.on("end", () => socket.end());
      }),
    );
    const client = track(createClient({ endpoints: { work: server.endpoint } }));
    const error = await rejectionOf(client.call("work", {}, { timeout: 200 }));
    expect(error.code).toBe("deadline_exceeded");
    await server.allClosed();
  });
});
