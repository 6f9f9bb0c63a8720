import { connect, createServer } from "node:net";
import type { Socket } from "node:net";
import { once } from "node:events";
import { describe, expect, test } from "vitest";
import { decodeJson, encodeResult } from "@funker/protocol";
import { createClient } from "@funker/client";
import { keep2017Replica } from "@funker/test-utils";
import { ProtocolMemory } from "./protocol-memory.js";
import { startFramedServer } from "./test-support/servers.js";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

/** A server that accepts connections and answers nothing: what a 2017 function looks like to a framed caller. */
async function silentServer(): Promise<{ endpoint: string; received: () => Buffer; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const chunks: Buffer[] = [];
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    endpoint: `127.0.0.1:${port}`,
    received: () => Buffer.concat(chunks),
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("finding out what a function speaks (PROTOCOL.md section 4)", () => {
  test("the default client calls a 2017 function with no configuration: two silent probes, then the 2017 format, and later calls go straight to it", async () => {
    await using replica = await keep2017Replica("add");
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${replica.port}` }, helloTimeoutMs: 200, deadAddressMs: 50 }));
    expect(await client.call("add", { x: 1, y: 2 }, { timeout: 20_000 })).toBe(3);
    // Two probes (each loses the replica it reached), then the call.
    await expect.poll(() => replica.starts, { timeout: 15_000 }).toBe(4);
    expect(await client.call("add", { x: 2, y: 3 }, { timeout: 20_000 })).toBe(5);
    await expect.poll(() => replica.starts, { timeout: 15_000 }).toBe(5);
  });

  test("a probe sends the preface alone: a silent replica never receives a call it could run", async () => {
    const silent = await silentServer();
    try {
      const client = track(createClient({ endpoints: { add: silent.endpoint }, helloTimeoutMs: 100 }));
      const error = await rejectionOf(client.call("add", { x: 1 }, { protocol: "framed", timeout: 5_000 }));
      expect(error).toMatchObject({ code: "protocol_error", mayHaveRun: false });
      expect(error.message).toContain("did not answer the framed preface within 100 ms");
      expect(error.message).toContain("2017 function");
      expect([...silent.received()]).toEqual([0x00, 0x46, 0x55, 0x4e, 0x4b, 0x45, 0x52, 0x02]);
    } finally {
      await silent.close();
    }
  });

  test("one silent probe (a stalled replica) does not make a Funker function a 2017 one: the call goes framed, metadata and all", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, call.metadata?.["tenant"] ?? null)) }));
    // In front of it: the first connection is held and never answered; later ones pass through.
    const held: Socket[] = [];
    const front = createServer((socket) => {
      if (held.length === 0) {
        held.push(socket);
        return;
      }
      const upstream = connect(Number(server.endpoint.split(":")[1]), "127.0.0.1");
      socket.pipe(upstream).pipe(socket);
      socket.on("error", () => upstream.destroy());
      upstream.on("error", () => socket.destroy());
    });
    front.listen(0, "127.0.0.1");
    await once(front, "listening");
    try {
      const { port } = front.address() as { port: number };
      const client = track(createClient({ endpoints: { add: `127.0.0.1:${port}` }, helloTimeoutMs: 100, deadAddressMs: 50 }));
      expect(await client.call("add", {}, { metadata: { tenant: "acme" }, timeout: 5_000 })).toBe("acme");
      expect(held).toHaveLength(1);
      expect(server.calls[0]?.metadata?.["tenant"]).toBe("acme");
    } finally {
      for (const socket of held) socket.destroy();
      front.close();
    }
  });

  test("a version 1 handler refuses the version 2 preface; the call goes again in version 1, and later connections start in version 1", async () => {
    const server = track(await startFramedServer({ versions: [1], onCall: (call, peer) => peer.send(encodeResult(call.id, decodeJson(call.body), { version: peer.version })) }));
    const client = track(createClient({ endpoints: { echo: server.endpoint }, maxIdleConnectionsPerAddress: 0 }));
    expect(await client.call("echo", { n: 1 })).toEqual({ n: 1 });
    expect(server.accepted).toBe(2);
    expect(await client.call("echo", { n: 2 })).toEqual({ n: 2 });
    expect(server.accepted).toBe(3);
    expect(server.calls).toHaveLength(2);
  });

  test("a HELLO naming another function (a stale address) sends the call elsewhere, unsent", async () => {
    const stale = track(await startFramedServer({ functionName: "other", onCall: (call, peer) => peer.send(encodeResult(call.id, "wrong")) }));
    const right = track(await startFramedServer({ functionName: "add", onCall: (call, peer) => peer.send(encodeResult(call.id, "right")) }));
    const client = track(createClient({ endpoints: { add: [stale.endpoint, right.endpoint] }, deadAddressMs: 60_000 }));
    for (let index = 0; index < 4; index += 1) expect(await client.call("add", {})).toBe("right");
    expect(stale.calls).toHaveLength(0);
  });

  test("a call pinned to the 2017 format by FUNKER_ENDPOINTS (name@legacy) never probes", async () => {
    await using replica = await keep2017Replica("add");
    const client = new (await import("./client.js")).ClientCore({}, `add@legacy=127.0.0.1:${replica.port}`);
    expect(await client.call("add", { x: 4, y: 5 })).toBe(9);
    expect(replica.starts).toBe(1);
    await client.close();
  });
});

describe("ProtocolMemory", () => {
  test("takes a function for a 2017 one after two silent probes in a row; a HELLO in between resets the count", () => {
    const memory = new ProtocolMemory(60_000);
    expect(memory.sawSilentProbe("add", "a:1", 100, 0)).toBe(false);
    memory.sawHello("add");
    expect(memory.sawSilentProbe("add", "a:1", 100, 1)).toBe(false);
    expect(memory.speaksLegacy("add", 2)).toBe(false);
    expect(memory.sawSilentProbe("add", "a:2", 100, 3)).toBe(true);
    expect(memory.speaksLegacy("add", 4)).toBe(true);
  });

  test("a 2017 reply keeps the memory; a marked reply (a Funker handler) forgets it; with no 2017 reply for the memory's span, it lapses", () => {
    const memory = new ProtocolMemory(1_000);
    memory.sawSilentProbe("add", "a:1", 100, 0);
    memory.sawSilentProbe("add", "a:1", 100, 0);
    memory.sawLegacyReply("add", false, 900);
    expect(memory.speaksLegacy("add", 1_800)).toBe(true);
    expect(memory.speaksLegacy("add", 1_900)).toBe(false);
    memory.sawSilentProbe("sub", "b:1", 100, 0);
    memory.sawSilentProbe("sub", "b:1", 100, 0);
    memory.sawLegacyReply("sub", true, 10);
    expect(memory.speaksLegacy("sub", 11)).toBe(false);
  });

  test("remembers at most 4,096 addresses, forgetting the oldest first", () => {
    const memory = new ProtocolMemory(1_000);
    for (let index = 0; index <= 4_096; index += 1) memory.learnVersion(`10.0.${index >> 8}.${index & 255}:9999`, 2);
    expect(memory.versionAt("10.0.0.0:9999")).toBeUndefined();
    expect(memory.versionAt("10.0.16.0:9999")).toBe(2);
  });
});
