import { describe, expect, test } from "vitest";
import { encodeLegacyError } from "@funker/protocol";
import { createClient } from "@funker/client";
import { TestServer, startLegacyServer } from "./test-support/servers.js";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

describe("legacy protocol (2017 functions)", () => {
  test("calls a 2017-style function: JSON, half-close, JSON reply, close", async () => {
    const server = track(await startLegacyServer((args) => JSON.stringify((args as { x: number; y: number }).x + (args as { x: number; y: number }).y)));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    await server.allClosed();
  });

  test("omitted arguments are sent as {}, as the 2017 Python caller did", async () => {
    let received: unknown;
    const server = track(
      await startLegacyServer((args) => {
        received = args;
        return "null";
      }),
    );
    const client = track(createClient({ endpoints: { ping: server.endpoint } }));
    await expect(client.call("ping", undefined, { protocol: "legacy" })).resolves.toBeNull();
    expect(received).toEqual({});
  });

  test("an empty reply (a 2017 function that threw) is handler_crashed", async () => {
    const server = track(await startLegacyServer(() => ""));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a funkerError reply from a Funker handler becomes the remote error", async () => {
    const server = track(await startLegacyServer(() => encodeLegacyError({ code: "handler_error", name: "TypeError", message: "boom", data: { n: 1 } })));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("handler_error");
    expect(error.remote).toBe(true);
    expect(error.remoteName).toBe("TypeError");
    expect(error.data).toEqual({ n: 1 });
  });

  test("a malformed reply is a protocol_error", async () => {
    const server = track(await startLegacyServer(() => "Traceback (most recent call last):"));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("protocol_error");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a reply truncated mid-JSON is a protocol_error", async () => {
    const server = track(await startLegacyServer(() => '{"sum": 3, "detail": "cut he'));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("protocol_error");
    expect(error.mayHaveRun).toBe(true);
  });

  test("an oversized reply is payload_too_large", async () => {
    const server = track(await startLegacyServer(() => JSON.stringify("x".repeat(10_000))));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy", maxPayloadBytes: 1024 }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.code).toBe("payload_too_large");
    expect(error.mayHaveRun).toBe(true);
  });

  test("a 2017 function that never replies ends at the deadline", async () => {
    const server = track(
      await TestServer.start((socket) => {
        socket.resume();
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 200 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(error.mayHaveRun).toBe(true);
  });

  test("abort during a legacy call rejects with cancelled", async () => {
    const server = track(await TestServer.start((socket) => socket.resume()));
    const client = track(createClient({ endpoints: { add: server.endpoint }, protocol: "legacy" }));
    const controller = new AbortController();
    const pending = rejectionOf(client.call("add", {}, { signal: controller.signal }));
    await server.until((s) => s.accepted === 1);
    controller.abort();
    const error = await pending;
    expect(error.code).toBe("cancelled");
  });
});
