import { once } from "node:events";
import { describe, expect, test } from "vitest";
import { createClient } from "@funker/client";
import { freePort } from "@funker/node-utils";
import { loopbackSockets } from "@funker/test-utils";
import { rejectionOf, startReplicaProcess, useCleanup } from "./test-support/harness.js";

const { track, trackChild } = useCleanup();

describe("a reuse-mode replica killed with kill -9", () => {
  test("a call it never read, on a kept connection, is delivered again elsewhere, even when not idempotent; the call it was running may have run", async () => {
    const port = await freePort();
    const env = { FUNKER_PORT: String(port), FUNKER_MODE: "reuse", FUNKER_CONCURRENCY: "4" };
    const first = startReplicaProcess(env);
    trackChild(first.child);
    await first.printed("port");
    const client = track(createClient({ endpoints: { work: `127.0.0.1:${port}` }, deadAddressMs: 50, timeout: 15_000 }));

    // Two calls at once open two connections, both kept afterwards.
    const firstPid = first.child.pid;
    expect(await Promise.all([client.call("work", {}), client.call("work", {})])).toEqual([{ pid: firstPid }, { pid: firstPid }]);
    // One kept connection carries a call that holds the replica's event loop: from then on it reads nothing.
    const running = rejectionOf(client.call("work", { block: 60_000 }));
    await first.printed("blocking");
    // The other carries a call that stays in the replica's socket, unread.
    const unread = client.call("work", {});
    await expect.poll(() => loopbackSockets().some((socket) => socket.localPort === port && socket.unreadBytes > 0)).toBe(true);

    first.child.kill("SIGKILL");
    await once(first.child, "exit");
    // Its replacement on the same port, as funker dev and Swarm start one.
    const second = startReplicaProcess(env);
    trackChild(second.child);

    expect(await unread).toEqual({ pid: second.child.pid });
    const crashed = await running;
    expect(crashed.code).toBe("handler_crashed");
    expect(crashed.mayHaveRun).toBe(true);
  });
});
