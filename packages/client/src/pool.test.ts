import type { Socket } from "node:net";
import { describe, expect, test } from "vitest";
import { encodeError, encodeResult } from "@funker/protocol";
import type { CallFrame } from "@funker/protocol";
import { createClient } from "@funker/client";
import { startFramedServer } from "./test-support/servers.js";
import type { FramedPeer } from "./test-support/servers.js";
import { activeResources } from "./test-support/leaks.js";
import { rejectionOf, useCleanup } from "./test-support/harness.js";
import { keepaliveTimerOn } from "@funker/test-utils";

const { track } = useCleanup();

/** A reuse-mode handler: answers with keepAlive, or as `answer` decides for the nth call on a connection. */
function reuseMode(answer?: (call: CallFrame, peer: FramedPeer, nthOnConnection: number) => void) {
  const perConnection = new WeakMap<object, number>();
  return startFramedServer({
    onCall(call, peer) {
      const nth = (perConnection.get(peer.socket) ?? 0) + 1;
      perConnection.set(peer.socket, nth);
      if (answer !== undefined) answer(call, peer, nth);
      else peer.send(encodeResult(call.id, nth, { keepAlive: true }));
    },
  });
}

describe("kept connections", () => {
  test("a keepAlive reply returns the connection to the pool; the next call reuses it", async () => {
    const server = track(await reuseMode());
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    expect(await client.call("count", {})).toBe(1);
    expect(await client.call("count", {})).toBe(2);
    expect(await client.call("count", {})).toBe(3);
    expect(server.accepted).toBe(1);
  });

  test("calls go round the replicas: new connections and then kept ones are spread evenly", async () => {
    const replicas = [track(await reuseMode()), track(await reuseMode()), track(await reuseMode()), track(await reuseMode())];
    const client = track(createClient({ endpoints: { count: replicas.map((replica) => replica.endpoint) } }));
    for (let round = 0; round < 5; round += 1) {
      await Promise.all(Array.from({ length: 8 }, () => client.call("count", {})));
    }
    expect(replicas.map((replica) => replica.calls.length)).toEqual([10, 10, 10, 10]);
    expect(replicas.map((replica) => replica.accepted)).toEqual([2, 2, 2, 2]);
  });

  test("a call goes to the replica with the fewest of this client's calls in flight, not to the next in turn", async () => {
    const held: { call: CallFrame; peer: FramedPeer }[] = [];
    const holdFirst = (call: CallFrame, peer: FramedPeer): void => {
      if ((call.body.length > 0 && new TextDecoder().decode(call.body).includes("hold")) === true) held.push({ call, peer });
      else peer.send(encodeResult(call.id, "done", { keepAlive: true }));
    };
    const replicas = [track(await reuseMode(holdFirst)), track(await reuseMode(holdFirst))];
    // No kept connections, so that an idle one cannot be what steers the choice.
    const client = track(createClient({ endpoints: { work: replicas.map((replica) => replica.endpoint) }, maxIdleConnectionsPerAddress: 0 }));
    const holding = client.call("work", { hold: true });
    await expect.poll(() => held.length).toBe(1);
    const busy = replicas.findIndex((replica) => replica.calls.length === 1);
    for (let index = 0; index < 6; index += 1) expect(await client.call("work", {})).toBe("done");
    // Round robin alone would have sent three of the six to the busy replica.
    expect(replicas[busy]?.calls.length).toBe(1);
    expect(replicas[1 - busy]?.calls.length).toBe(6);
    const { call, peer } = held[0] as { call: CallFrame; peer: FramedPeer };
    peer.send(encodeResult(call.id, "released", { keepAlive: true }));
    expect(await holding).toBe("released");
  });

  test("a refused error on a kept connection is delivered again at once, even when not idempotent", async () => {
    const busy = { code: "unavailable" as const, message: "busy", name: "FunkerError" };
    const server = track(
      await reuseMode((call, peer, nth) => {
        if (nth === 2) peer.send(encodeError(call.id, busy, { refused: true }));
        else peer.send(encodeResult(call.id, `answer ${nth}`, { keepAlive: true }));
      }),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint }, retry: { initialBackoffMs: 1, maxBackoffMs: 5 } }));
    expect(await client.call("count", {})).toBe("answer 1");
    expect(await client.call("count", {})).toBe("answer 1");
    expect(server.calls).toHaveLength(3);
    expect(server.accepted).toBe(2);
  });

  test("an unrefused error on a kept connection may have run, whatever its code: reported, not delivered again", async () => {
    const escaped = { code: "unavailable" as const, message: "a nested call's error escaped", name: "FunkerError" };
    const server = track(
      await reuseMode((call, peer, nth) => peer.send(nth === 1 ? encodeResult(call.id, "first", { keepAlive: true }) : encodeError(call.id, escaped, { keepAlive: true }))),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    await client.call("count", {});
    expect(await rejectionOf(client.call("count", {}))).toMatchObject({ code: "unavailable", mayHaveRun: true });
    expect(server.calls).toHaveLength(2);
  });

  test("a handler closing a kept connection as idle while the next call is on its way: told so, the call goes on a new connection", async () => {
    const goingAway = { code: "unavailable" as const, message: "the replica closed this idle connection", name: "FunkerError" };
    const server = track(
      await reuseMode((call, peer, nth) => {
        if (nth === 2) {
          peer.send(encodeError("", goingAway, { refused: true }));
          peer.socket.end();
        } else peer.send(encodeResult(call.id, `answer ${nth}`, { keepAlive: true }));
      }),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint }, retry: { initialBackoffMs: 1, maxBackoffMs: 5 } }));
    expect(await client.call("count", {})).toBe("answer 1");
    expect(await client.call("count", {})).toBe("answer 1");
    expect(server.accepted).toBe(2);
  });

  test("TCP keepalive is on for a parked connection and for a call without heartbeats, and off while a call has them", async () => {
    const held: { call: CallFrame; peer: FramedPeer }[] = [];
    const server = track(await reuseMode((call, peer) => held.push({ call, peer })));
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    const clientPort = (): number => ([...server.sockets][0] as Socket).remotePort as number;
    const release = async (): Promise<void> => {
      await expect.poll(() => held.length).toBe(1);
      const { call, peer } = held.pop() as { call: CallFrame; peer: FramedPeer };
      peer.send(encodeResult(call.id, "ok", { keepAlive: true }));
    };

    const withHeartbeats = client.call("count", {});
    await expect.poll(() => server.sockets.size).toBe(1);
    expect(keepaliveTimerOn(clientPort())).toBe(false);
    await release();
    await withHeartbeats;
    // Parked: quiet until the next call, so its path is kept alive.
    expect(keepaliveTimerOn(clientPort())).toBe(true);

    const other = track(await reuseMode((call, peer) => held.push({ call, peer })));
    const second = track(createClient({ endpoints: { count: other.endpoint } }));
    const withoutHeartbeats = second.call("count", {}, { heartbeatIntervalMs: 0 });
    await expect.poll(() => other.sockets.size).toBe(1);
    // Set as the connection comes up, which the server may see accepted a moment before.
    await expect.poll(() => keepaliveTimerOn(([...other.sockets][0] as Socket).remotePort as number)).toBe(true);
    await release();
    await withoutHeartbeats;
  });

  test("without keepAlive, every call has its own connection, closed after the reply", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "ok")) }));
    const client = track(createClient({ endpoints: { once: server.endpoint } }));
    await client.call("once", {});
    await client.call("once", {});
    expect(server.accepted).toBe(2);
    await server.allClosed();
  });

  test("an idle kept connection does not keep the process alive", async () => {
    const server = track(await reuseMode());
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    const before = activeResources();
    await client.call("count", {});
    await server.until((s) => s.sockets.size === 1);
    // The server's own accepted socket is the only new socket holding the process.
    expect(activeResources().TCPSocketWrap).toBe(before.TCPSocketWrap + 1);
  });

  test("idle connections close after the idle timeout", async () => {
    const server = track(await reuseMode());
    const client = track(createClient({ endpoints: { count: server.endpoint }, idleConnectionTimeoutMs: 50 }));
    await client.call("count", {});
    await server.allClosed();
  });

  test("close() closes idle connections, and later calls fail with cancelled", async () => {
    const server = track(await reuseMode());
    const client = createClient({ endpoints: { count: server.endpoint } });
    await client.call("count", {});
    await client.close();
    await server.allClosed();
    const error = await rejectionOf(client.call("count", {}));
    expect(error.code).toBe("cancelled");
    expect(error.mayHaveRun).toBe(false);
  });

  test("await using disposes the client", async () => {
    const server = track(await reuseMode());
    {
      await using client = createClient({ endpoints: { count: server.endpoint } });
      await client.call("count", {});
    }
    await server.allClosed();
  });

  test("a kept connection the handler closed is not reused", async () => {
    const server = track(
      await reuseMode((call, peer) => {
        peer.send(encodeResult(call.id, "ok", { keepAlive: true }));
        peer.socket.end();
      }),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    await client.call("count", {});
    await server.allClosed();
    await expect(client.call("count", {})).resolves.toBe("ok");
    expect(server.accepted).toBe(2);
  });

  test("concurrent calls open their own connections and all return to the pool", async () => {
    const server = track(await reuseMode());
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    await Promise.all(Array.from({ length: 5 }, () => client.call("count", {})));
    expect(server.accepted).toBe(5);
    for (let index = 0; index < 5; index += 1) await client.call("count", {});
    expect(server.accepted).toBe(5);
  });

  // Later calls on a kept connection are not accepted separately: a kept
  // connection that breaks with no frame for the call may have run the
  // function (the handler died after reading it, or just before: no one can
  // tell), so it is reported like any other failure after delivery, and
  // retried only when idempotent.
  test("a reused connection that breaks before replying: reported when not idempotent", async () => {
    const server = track(
      await reuseMode((call, peer, nth) => {
        if (nth === 1) peer.send(encodeResult(call.id, "first", { keepAlive: true }));
        else peer.socket.destroy();
      }),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint } }));
    await client.call("count", {});
    const error = await rejectionOf(client.call("count", {}));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
    expect(server.calls).toHaveLength(2);
  });

  test("a reused connection that breaks before replying: retried on a fresh connection when idempotent", async () => {
    const server = track(
      await reuseMode((call, peer, nth) => {
        if (nth === 2) peer.socket.destroy();
        else peer.send(encodeResult(call.id, `call ${nth}`, { keepAlive: true }));
      }),
    );
    const client = track(createClient({ endpoints: { count: server.endpoint }, retry: { initialBackoffMs: 5 } }));
    await client.call("count", {});
    await expect(client.call("count", {}, { idempotent: true })).resolves.toBe("call 1");
    expect(server.accepted).toBe(2);
  });
});
