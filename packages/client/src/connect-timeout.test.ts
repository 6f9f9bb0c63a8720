import { spawn } from "node:child_process";
import { once } from "node:events";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { describe, expect, test } from "vitest";
import { encodeResult } from "@funker/protocol";
import { createClient } from "@funker/client";
import { startFramedServer } from "./test-support/servers.js";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track, trackChild } = useCleanup();

/**
 * An address whose connection attempts hang, as a vanished replica's do on an
 * overlay network: a listener that never accepts, with its accept queue full,
 * so the kernel drops further SYNs instead of answering them.
 */
async function startUnansweringAddress(): Promise<string> {
  // A Node process that listens with a backlog of 0, prints its port, then
  // blocks its only thread: it never returns to its event loop, so never accepts.
  const script = [
    "const server = require('node:net').createServer();",
    "server.listen({ port: 0, host: '127.0.0.1', backlog: 0 }, () => {",
    "  process.stdout.write(server.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 120000));",
    "});",
  ].join("\n");
  const child = trackChild(spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] }));
  const [chunk] = (await once(child.stdout as NodeJS.ReadableStream, "data")) as [Buffer];
  const port = Number(chunk.toString().trim());
  // Fill the accept queue: with a backlog of 0 it holds one connection.
  const fillers: Socket[] = [];
  for (let index = 0; index < 1; index += 1) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    fillers.push(socket);
    await once(socket, "connect");
  }
  track({ close: () => fillers.forEach((socket) => socket.destroy()) });
  return `127.0.0.1:${port}`;
}

describe("connect time limit", () => {
  test("a connection that is never established moves the call to another replica, not to the deadline", async () => {
    const hanging = await startUnansweringAddress();
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "answered")) }));
    const client = track(createClient({ endpoints: { add: [hanging, server.endpoint] }, connectTimeoutMs: 200, timeout: 10_000 }));
    // Calls go round the replicas: within two calls, one starts at the hanging address.
    expect(await client.call("add", {})).toBe("answered");
    expect(await client.call("add", {})).toBe("answered");
    expect(server.calls).toHaveLength(2);
  });

  test("when no replica can be reached, the call fails at its deadline and certainly did not run", async () => {
    const hanging = await startUnansweringAddress();
    const client = track(createClient({ endpoints: { add: [hanging] }, connectTimeoutMs: 100, timeout: 1_000 }));
    const error = await rejectionOf(client.call("add", {}));
    expect(["deadline_exceeded", "connection_failed"]).toContain(error.code);
    expect(error.mayHaveRun).toBe(false);
  });

  test("rejects a connect time limit that is not a positive number", () => {
    expect(() => createClient({ connectTimeoutMs: 0 })).toThrow(/connectTimeoutMs/);
  });
});
