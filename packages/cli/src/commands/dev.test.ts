import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, handlerSource, makeProject, runCli } from "../test-support.js";

beforeAll(assertBuilt);

const SEVEN_REPLICAS = "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n    replicas: 7\n";
const ADD = handlerSource("({ x, y }: { x: number; y: number }) => x + y");

describe("funker dev's options", { timeout: 120_000 }, () => {
  it("refuses a --port whose replicas would run past port 65535, as a usage error at the option", async () => {
    using project = makeProject({ "funker.yml": SEVEN_REPLICAS, "add/handler.ts": ADD });
    const result = await runCli(["dev", "--port", "65533", "--", "true"], { cwd: project.root });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--port 65533 gives the 7 replicas the ports 65533 to 65539, past 65535; choose 65529 or lower");
    expect(result.stderr).not.toMatch(/RangeError|unexpected failure|^\s+at /m);
  });
});
