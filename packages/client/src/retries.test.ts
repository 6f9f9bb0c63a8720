import { afterEach, describe, expect, test } from "vitest";
import { encodeError, encodeResult } from "@funker/protocol";
import type { WireError } from "@funker/protocol";
import { createClient } from "@funker/client";
import { startFramedServer } from "./test-support/servers.js";
import { closedPort, countRefusals, rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

const busy: WireError = { code: "unavailable", message: "this replica is busy with another call" };
/** Back-off so long that a call which backed off could not finish within a test's deadline. */
const NEVER_BACK_OFF = { initialBackoffMs: 1e9, maxBackoffMs: 1e9 };

const refusalCounters: Array<{ stop(): void }> = [];
afterEach(() => {
  for (const counter of refusalCounters.splice(0)) counter.stop();
});

function answering(value: unknown) {
  return startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, value)) });
}

/** Crashes (closes without a reply) on the first `crashes` calls, then answers. */
function crashingFirst(crashes: number, value: unknown) {
  let seen = 0;
  return startFramedServer({
    onCall(call, peer) {
      seen += 1;
      if (seen <= crashes) peer.socket.destroy();
      else peer.send(encodeResult(call.id, value));
    },
  });
}

describe("undelivered calls are retried at once, elsewhere", () => {
  test("a refused connection moves to another replica at once", async () => {
    const dead = await closedPort();
    const live = track(await answering("ok"));
    const refusals = countRefusals(dead);
    refusalCounters.push(refusals);
    // A long skip, so that a slow machine cannot let the refusing address be tried again.
    const client = track(createClient({ endpoints: { add: [`127.0.0.1:${dead}`, live.endpoint] }, retry: NEVER_BACK_OFF, deadAddressMs: 600_000 }));
    for (let index = 0; index < 5; index += 1) await expect(client.call("add", {}, { timeout: 20_000 })).resolves.toBe("ok");
    expect(refusals.count).toBeLessThanOrEqual(1);
  });

  test("a refusing address is marked dead: later calls skip it (a first refusal skips it for a tenth of deadAddressMs)", async () => {
    const dead = await closedPort();
    const live = track(await answering("ok"));
    const refusals = countRefusals(dead);
    refusalCounters.push(refusals);
    const client = track(createClient({ endpoints: { add: [`127.0.0.1:${dead}`, live.endpoint] }, deadAddressMs: 600_000 }));
    for (let index = 0; index < 20; index += 1) await client.call("add", {});
    expect(refusals.count).toBe(1);
    expect(live.calls).toHaveLength(20);
  });

  test("a busy answer moves to another replica at once", async () => {
    const busyReplica = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, busy, { refused: true })) }));
    const live = track(await answering("ok"));
    const client = track(createClient({ endpoints: { add: [busyReplica.endpoint, live.endpoint] }, retry: NEVER_BACK_OFF }));
    for (let index = 0; index < 5; index += 1) await expect(client.call("add", {}, { timeout: 20_000 })).resolves.toBe("ok");
    expect(live.calls).toHaveLength(5);
  });

  test("when every replica is busy, the client backs off and tries again until the deadline", async () => {
    const first = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, busy, { refused: true })) }));
    const second = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, busy, { refused: true })) }));
    const client = track(createClient({ endpoints: { add: [first.endpoint, second.endpoint] }, retry: { initialBackoffMs: 5, maxBackoffMs: 20 } }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 400 }));
    expect(error.code).toBe("deadline_exceeded");
    // mayHaveRun is false when the deadline fell during a back-off, and true
    // when it fell while a call was written and unanswered: from the caller's
    // side that call may have been the one a replica accepted.
    expect(first.calls.length).toBeGreaterThanOrEqual(2);
    expect(second.calls.length).toBeGreaterThanOrEqual(2);
  });

  test("an error after the handler accepted the call may have run, whatever its code: reported, not redelivered", async () => {
    // The acceptance heartbeat, then a "not delivered" code: the function ran and let a nested call's error escape.
    const ran = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, busy)) }));
    const client = track(createClient({ endpoints: { add: [ran.endpoint] }, retry: NEVER_BACK_OFF }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 5_000 }));
    expect(error).toMatchObject({ code: "unavailable", mayHaveRun: true, remote: true });
    expect(ran.calls).toHaveLength(1);
  });

  test("a busy replica that frees up is called after the back-off", async () => {
    let seen = 0;
    const server = track(
      await startFramedServer({
        // A busy answer says it refused the call; the call that is served is answered.
        onCall(call, peer) {
          seen += 1;
          peer.send(seen <= 3 ? encodeError(call.id, busy, { refused: true }) : encodeResult(call.id, "finally"));
        },
      }),
    );
    const client = track(createClient({ endpoints: { add: server.endpoint }, retry: { initialBackoffMs: 5, maxBackoffMs: 20 } }));
    await expect(client.call("add", {})).resolves.toBe("finally");
    expect(server.calls).toHaveLength(4);
  });

  test("the deadline passing during back-off: deadline_exceeded, not delivered, with the last failure as cause", async () => {
    const dead = await closedPort();
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${dead}` }, retry: NEVER_BACK_OFF }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 200 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(error.mayHaveRun).toBe(false);
    expect((error.cause as { code?: string }).code).toBe("connection_failed");
  });

  test("an abort during back-off: cancelled, not delivered", async () => {
    const dead = await closedPort();
    const refusals = countRefusals(dead);
    refusalCounters.push(refusals);
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${dead}` }, retry: NEVER_BACK_OFF }));
    const controller = new AbortController();
    const pending = rejectionOf(client.call("add", {}, { signal: controller.signal }));
    await expect.poll(() => refusals.count).toBe(1);
    controller.abort();
    const error = await pending;
    expect(error.code).toBe("cancelled");
    expect(error.mayHaveRun).toBe(false);
  });
});

describe("delivered calls: at most once unless idempotent", () => {
  test("a call that is not idempotent is reported, not retried, once it may have run", async () => {
    const server = track(await crashingFirst(1, "second time"));
    const client = track(createClient({ endpoints: { charge: server.endpoint } }));
    const error = await rejectionOf(client.call("charge", { amount: 5 }));
    expect(error.code).toBe("handler_crashed");
    expect(error.mayHaveRun).toBe(true);
    expect(server.calls).toHaveLength(1);
  });

  test("an idempotent call is retried after a crash", async () => {
    const server = track(await crashingFirst(1, "second time"));
    const client = track(createClient({ endpoints: { read: server.endpoint }, retry: { initialBackoffMs: 5 } }));
    await expect(client.call("read", {}, { idempotent: true })).resolves.toBe("second time");
    expect(server.calls).toHaveLength(2);
  });

  test("idempotent retries stop at maxAttempts deliveries", async () => {
    const server = track(await crashingFirst(100, "never"));
    const client = track(createClient({ endpoints: { read: server.endpoint }, idempotent: true, retry: { maxAttempts: 2, initialBackoffMs: 5 } }));
    const error = await rejectionOf(client.call("read", {}));
    expect(error.code).toBe("handler_crashed");
    expect(server.calls).toHaveLength(2);
  });

  test("an error the function threw is never retried, even when idempotent", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, { code: "handler_error", message: "no" })) }));
    const client = track(createClient({ endpoints: { read: server.endpoint } }));
    const error = await rejectionOf(client.call("read", {}, { idempotent: true }));
    expect(error.code).toBe("handler_error");
    expect(server.calls).toHaveLength(1);
  });

  test("a replica serving another function (not_found) is not retried", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeError(call.id, { code: "not_found", message: "this replica serves add" }, { refused: true })) }));
    const client = track(createClient({ endpoints: { sub: server.endpoint } }));
    const error = await rejectionOf(client.call("sub", {}, { idempotent: true }));
    expect(error.code).toBe("not_found");
    expect(error.mayHaveRun).toBe(false);
    expect(server.calls).toHaveLength(1);
  });
});
