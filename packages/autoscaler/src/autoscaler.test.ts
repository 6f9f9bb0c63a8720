import { describe, expect, it } from "vitest";
import { handler } from "@funker/handler";
import { freePort } from "@funker/node-utils";
import { readStatus } from "./autoscaler.js";

describe("readStatus", () => {
  it("reads a replica's free capacity from its status port", async () => {
    const statusPort = await freePort();
    await using server = handler(() => 3, { port: 0, host: "127.0.0.1", statusPort, exit: false, log: false, mode: "reuse", concurrency: 3 });
    await server.ready;
    let status = await readStatus("127.0.0.1", statusPort);
    for (let attempt = 0; status === undefined && attempt < 100; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await readStatus("127.0.0.1", statusPort);
    }
    expect(status).toMatchObject({ starting: false, stopping: false, inFlight: 0, capacity: 3, free: 3, refused: 0 });
  });

  it("takes a port that does not answer as no answer, so the replica counts as starting", async () => {
    expect(await readStatus("127.0.0.1", await freePort())).toBeUndefined();
  });
});
