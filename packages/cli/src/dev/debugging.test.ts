import { beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, CLI, handlerSource, makeProject, runCli } from "../test-support.js";

beforeAll(assertBuilt);

const THROWER = `import { handler } from "@funker/handler";
function explode(): never {
  throw new TypeError("boom");
}
handler(() => explode());
`;

describe("debugging under funker dev", { timeout: 120_000 }, () => {
  it("shows a thrown error's name, message and TypeScript stack in the dev log, funker call, funker call --json and funker status", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  thrower:\n    entry: thrower/handler.ts\n",
      "thrower/handler.ts": THROWER,
    });
    const script = [`node ${CLI} call thrower`, `node ${CLI} call thrower --json`, `node ${CLI} status --json`, "true"].join("; ");
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    // The dev log: the failed call, what was thrown, and where, in the TypeScript source.
    expect(result.stderr).toMatch(/^thrower\.1\s+\| call \S+ failed: handler_error \([^)]*\): TypeError: boom$/m);
    expect(result.stderr).toMatch(/^thrower\.1\s+\| \s+at explode \(\S*thrower\/handler\.ts:3:9\)$/m);
    // funker call: the error by name, then the remote stack (the replica's prefixed dev log lines may come between).
    const callerLines = result.stderr
      .split("\n")
      .filter((line) => !/^thrower\.1\s+\|/.test(line))
      .join("\n");
    expect(callerLines).toMatch(/^error handler_error: TypeError: boom\n\s+at explode \(\S*thrower\/handler\.ts:3:9\)$/m);
    const [json, status] = result.stdout.split("\n{\n");
    const failure = JSON.parse(json ?? "") as { ok: boolean; error: { code: string; name: string; message: string; stack: string } };
    expect(failure).toMatchObject({ ok: false, error: { code: "handler_error", name: "TypeError", message: "boom" } });
    expect(failure.error.stack).toMatch(/thrower\/handler\.ts:3:9/);
    const replicas = (JSON.parse(`{\n${status}`) as { functions: Record<string, { lastError?: { message: string } }[]> }).functions["thrower"];
    expect(replicas?.[0]?.lastError).toMatchObject({ code: "handler_error", message: "TypeError: boom" });
  });

  it("says that an entry file which never starts a handler probably does not call handler(fn)", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  idle:\n    entry: idle/handler.ts\n",
      "idle/handler.ts": 'export const add = ({ x, y }: { x: number; y: number }) => x + y;\nconsole.log("loaded");\n',
    });
    const result = await runCli(["dev", "--no-watch", "--", "true"], { cwd: project.root });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^idle\.1\s+\| exited without serving a call after [^(]+ \(the entry file did not start a handler: does it call `handler\(fn\)`\?\); restarting in/m,
    );
    expect(result.stderr).toMatch(/^idle\.1 failed to start 5 times in a row \(last: exited without serving a call: the entry file did not start a handler/m);
  });

  it("says which time limit a call missed and how funker call sets another", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  slow:\n    entry: slow/handler.ts\n    mode: reuse\n",
      "slow/handler.ts": handlerSource("async () => { await new Promise((resolve) => setTimeout(resolve, 10_000)); return 1; }"),
    });
    const result = await runCli(["dev", "--no-watch", "--", "node", CLI, "call", "slow", "--timeout", "500ms"], { cwd: project.root });

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error deadline_exceeded: .* \(its `timeout`, 500 ms\)$/m);
    expect(result.stderr).toMatch(/^funker call --timeout <duration> \(e\.g\. 5m\) sets the time limit$/m);
  });
});
