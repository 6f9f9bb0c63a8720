import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, handlerSource, makeProject, runCli, startCli, WAIT_MS } from "../test-support.js";

beforeAll(assertBuilt);

const PROJECT = {
  "funker.yml": `version: 1
functions:
  add:
    entry: add/handler.ts
    replicas: 2
  echo:
    entry: echo/handler.ts
    mode: reuse
`,
  "add/handler.ts": handlerSource("({ x, y }: { x: number; y: number }) => x + y"),
  "echo/handler.ts": handlerSource("(args: unknown) => args"),
};

interface StatusJson {
  summary: Record<string, { mode: string; desired: number; running: number; idle: number; busy: number; starting: number; callsPerSecond: number; autoscaler: null }>;
}

describe("funker status", { timeout: 120_000 }, () => {
  it("shows per function the replicas desired and running, idle, busy and starting, and calls per second over the last ten seconds", async () => {
    using project = makeProject(PROJECT);
    await using dev = startCli(["dev"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);

    const summary = async () => (JSON.parse((await runCli(["status", "--json"], { cwd: project.root })).stdout) as StatusJson).summary;
    // Every replica up, none called yet.
    await expect.poll(async () => (await summary())["add"]?.running, { timeout: WAIT_MS }).toBe(2);
    expect((await summary())["echo"]).toEqual({ mode: "reuse", desired: 1, running: 1, idle: 1, busy: 0, starting: 0, callsPerSecond: 0, autoscaler: null });

    const calls = await Promise.all([0, 1, 2, 3, 4].map((n) => runCli(["call", "echo", `n=${n}`], { cwd: project.root })));
    expect(calls.map((call) => call.code)).toEqual([0, 0, 0, 0, 0]);
    // Five calls within the last ten whole seconds: 0.5 calls/s, once the second of the last call is over, in the JSON and the table alike.
    let table: Awaited<ReturnType<typeof runCli>> = { code: -1, stdout: "", stderr: "" };
    await expect
      .poll(
        async () => {
          const rate = (await summary())["echo"]?.callsPerSecond;
          table = await runCli(["status"], { cwd: project.root });
          return { rate, line: /^echo\s.*$/m.exec(table.stdout)?.[0].split(/\s+/) };
        },
        { timeout: WAIT_MS },
      )
      .toEqual({ rate: 0.5, line: ["echo", "reuse", "1", "1", "1", "0", "0", "0.5", "-"] });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^FUNCTION\s+MODE\s+DESIRED\s+RUNNING\s+IDLE\s+BUSY\s+STARTING\s+CALLS\/S\s+AUTOSCALER$/m);
    expect(table.stdout, table.stdout).toMatch(/^add\s+single-shot\s+2\s+2\s+2\s+0\s+0\s+0\.0\s+-$/m);
    expect((await summary())["add"]?.callsPerSecond).toBe(0);
    // The replica table follows.
    expect(table.stdout).toMatch(/^REPLICA\s+PORT\s+PID\s+STATE\s+CALLS/m);
    expect(table.stdout).toMatch(/^echo\.1\s+\d+\s+\d+\s+idle\s+5\s/m);

    // With no more calls, the rate falls back to zero within the window, though the state file is not written again.
    await expect.poll(async () => (await summary())["echo"]?.callsPerSecond, { timeout: WAIT_MS, interval: 1_000 }).toBe(0);
  });

  it("shows a busy replica as busy and not idle", async () => {
    using project = makeProject({
      "funker.yml": `version: 1
functions:
  slow:
    entry: slow/handler.ts
    mode: reuse
`,
      "slow/handler.ts": handlerSource("async () => { await new Promise((resolve) => setTimeout(resolve, 20_000)); return 1; }"),
    });
    await using dev = startCli(["dev"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);
    const call = runCli(["call", "slow", "--timeout", "30s"], { cwd: project.root });
    await expect
      .poll(async () => (JSON.parse((await runCli(["status", "--json"], { cwd: project.root })).stdout) as StatusJson).summary["slow"], { timeout: WAIT_MS })
      .toMatchObject({ desired: 1, running: 1, idle: 0, busy: 1, starting: 0 });
    dev.child.kill("SIGINT");
    await call;
  });
});
