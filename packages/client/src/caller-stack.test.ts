import { describe, expect, test } from "vitest";
import { call, createClient, FunkerError, setDefaultClient } from "@funker/client";
import { startReplicaProcess, useCleanup } from "./test-support/harness.js";

const { track, trackChild } = useCleanup();

/** The first `at …` line of a stack. */
function firstFrame(stack: string | undefined): string {
  return stack?.split("\n").find((line) => /^\s+at /.test(line)) ?? "";
}

/** What `await promise` threw, awaited here as an app awaits a call. */
async function failure(promise: Promise<unknown>): Promise<FunkerError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof FunkerError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

/** A line of this file: the frame of a call made on it must name it. */
const THIS_FILE = /caller-stack\.test\.ts:\d+:\d+\)?$/;

describe("a failed call's stack", () => {
  test("starts at the app's calling line, for client.call and call, with the function's own stack kept in remoteStack", async () => {
    const replica = startReplicaProcess({ FUNKER_MODE: "reuse", FUNKER_EXPOSE_STACKS: "true" });
    trackChild(replica.child);
    const port = (await replica.printed("port")) as number;
    const client = track(createClient({ endpoints: { work: `127.0.0.1:${port}` } }));

    let viaClient: FunkerError | undefined;
    let viaClientLine: string | undefined;
    try {
      viaClientLine = new Error().stack?.split("\n")[1]?.match(/:(\d+):\d+\)?$/)?.[1];
      await client.call("work", { fail: "boom" });
    } catch (error) {
      viaClient = error as FunkerError;
    }
    expect(viaClient).toBeInstanceOf(FunkerError);
    expect(viaClient).toMatchObject({ code: "handler_error", message: "boom", remote: true });
    expect(viaClient?.stack?.split("\n")[0]).toBe("FunkerError: boom");
    expect(firstFrame(viaClient?.stack)).toMatch(THIS_FILE);
    // The frame names the line of the call itself, the one just below the line that read it here.
    expect(Number(firstFrame(viaClient?.stack).match(/:(\d+):\d+\)?$/)?.[1])).toBe(Number(viaClientLine) + 1);
    expect(viaClient?.remoteStack).toMatch(/^Error: boom\n\s+at .*reuse-replica\.mjs/);

    const restore = setDefaultClient(client);
    try {
      const viaCall = await failure(call("work", { fail: "bang" }));
      expect(viaCall.message).toBe("bang");
      expect(firstFrame(viaCall.stack)).toMatch(THIS_FILE);
      expect(viaCall.stack).not.toMatch(/default-client|client\.ts|connection\.ts/);
    } finally {
      restore();
    }

    // A failure raised here, not by the function, points at the app as well.
    const closed = createClient({ endpoints: { work: `127.0.0.1:${port}` } });
    await closed.close();
    const cancelled = await failure(closed.call("work", {}));
    expect(cancelled.code).toBe("cancelled");
    expect(firstFrame(cancelled.stack)).toMatch(THIS_FILE);
  });
});
