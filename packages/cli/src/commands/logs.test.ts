import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, handlerSource, makeProject, runCli, startCli, WAIT_MS } from "../test-support.js";
import { dockerLogsCommands } from "./logs.js";

beforeAll(assertBuilt);

const FUNKER_YML = `version: 1
functions:
  add:
    entry: add/handler.ts
    replicas: 2
  greet:
    entry: greet/handler.ts
    mode: reuse
`;

describe("funker logs under funker dev", { timeout: 180_000 }, () => {
  const project = makeProject({
    "funker.yml": FUNKER_YML,
    "add/handler.ts": handlerSource('({ x, y }: { x: number; y: number }) => { console.log("adding " + x + " " + y); return x + y; }'),
    "greet/handler.ts": handlerSource('({ name }: { name: string }) => { console.error("greeting", name); return `hello ${name}`; }'),
  });
  const dev = startCli(["dev", "--no-watch"], { cwd: project.root });
  afterAll(async () => {
    await dev[Symbol.asyncDispose]();
    project[Symbol.dispose]();
  });

  it("shows a call's lines as funker dev prints them, of every function or only those named", async () => {
    await dev.waitForStderr(/^ready: /m, 120_000);
    expect((await runCli(["call", "add", "x=1", "y=2"], { cwd: project.root })).stdout).toBe("3\n");
    expect((await runCli(["call", "greet", "name=Ada"], { cwd: project.root })).stdout).toBe('"hello Ada"\n');
    // Both calls' lines are in the log once the runtime has read them; the log holds what the terminal shows.
    await dev.waitForStderr(/^greet\.1\s+\| call \S+ ok/m);

    const all = await runCli(["logs"], { cwd: project.root });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^add\.[12]\s+\| adding 1 2$/m);
    expect(all.stdout).toMatch(/^add\.[12]\s+\| call \S+ ok \(/m);
    expect(all.stdout).toMatch(/^greet\.1\s+\| greeting Ada$/m);
    for (const line of all.stdout.trimEnd().split("\n")) expect(dev.stderr()).toContain(`${line}\n`);

    const greet = await runCli(["logs", "greet"], { cwd: project.root });
    expect(greet.stdout).toMatch(/^greet\.1\s+\| greeting Ada$/m);
    expect(greet.stdout).not.toMatch(/^add\./m);

    const unknown = await runCli(["logs", "nope"], { cwd: project.root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no function "nope" in funker.yml (functions: add, greet)');
  });

  it("with --follow prints a later call's lines as they come, and ends when funker dev stops", async () => {
    await dev.waitForStderr(/^ready: /m, 120_000);
    await using follow = startCli(["logs", "add", "--follow"], { cwd: project.root });
    // What the log held is printed first; the call below comes after.
    await expect.poll(() => follow.stdout(), { timeout: WAIT_MS }).toMatch(/^add\.[12]\s+\| adding 1 2$/m);
    expect(follow.stdout()).not.toMatch(/adding 5 6/);

    expect((await runCli(["call", "add", "x=5", "y=6"], { cwd: project.root })).stdout).toBe("11\n");
    expect((await runCli(["call", "greet", "name=Bo"], { cwd: project.root })).stdout).toBe('"hello Bo"\n');
    await expect.poll(() => follow.stdout(), { timeout: WAIT_MS }).toMatch(/^add\.[12]\s+\| adding 5 6$/m);
    await dev.waitForStderr(/^greet\.1\s+\| greeting Bo$/m);

    dev.child.kill("SIGTERM");
    await dev.exited;
    expect(await follow.exited).toEqual({ code: 0, signal: null });
    expect(follow.stdout()).not.toMatch(/greet/);

    // No runtime any more, and no stack on Docker (a docker that fails): exit code 3.
    const after = await runCli(["logs"], { cwd: project.root, env: { FUNKER_DOCKER: "false" } });
    expect(after.code).toBe(3);
    expect(after.stderr).toContain("funker dev is not running here, and no service of stack");
  });
});

describe("funker logs on Docker", () => {
  it("runs docker service logs for each service, passing --follow on", () => {
    expect(dockerLogsCommands(["add"], false)).toEqual([["service", "logs", "add"]]);
    expect(dockerLogsCommands(["add", "greet"], true)).toEqual([
      ["service", "logs", "--follow", "add"],
      ["service", "logs", "--follow", "greet"],
    ]);
  });
});
