import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, handlerSource, makeProject, startCli } from "../test-support.js";
import type { DevState } from "./state.js";

beforeAll(assertBuilt);

describe("funker dev's processes", { timeout: 120_000 }, () => {
  it.runIf(process.platform === "linux")("show as `funker replica <function>.<n>` in ps, not as a long command line", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n    replicas: 2\n",
      "add/handler.ts": handlerSource("({ x, y }: { x: number; y: number }) => x + y"),
    });
    await using dev = startCli(["dev", "--no-watch"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);

    const state = JSON.parse(readFileSync(join(project.root, ".funker", "dev.json"), "utf8")) as DevState;
    const pids = state.functions["add"]?.replicas.map((replica) => replica.pid) ?? [];
    expect(pids).toHaveLength(2);
    // What ps reads: the process's command line, which Node overwrites with the title.
    const commandLines = pids.map((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim());
    expect(commandLines).toEqual(["funker replica add.1", "funker replica add.2"]);
  });
});
