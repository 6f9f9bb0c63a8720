import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { allocateFreePorts } from "./ports.js";
import type { DevState } from "./state.js";
import { assertBuilt, CLI, handlerSource, makeProject, runCli } from "../test-support.js";

beforeAll(assertBuilt);

// A token made once per process: two calls that print the same one ran in the same process.
const TOKEN = `const token = \`\${process.pid}-\${Math.random().toString(36).slice(2)}\`;\n${handlerSource("() => token")}`;

describe("funker dev, fresh mode", { timeout: 120_000 }, () => {
  it("serves every call in a process of its own through the replica's supervisor, which stays up", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  token:\n    entry: token/handler.ts\n    replicas: 2\n    mode: fresh\n",
      "token/handler.ts": TOKEN,
    });
    const state = (): DevState => JSON.parse(readFileSync(join(project.root, ".funker", "dev.json"), "utf8")) as DevState;
    const script = [
      ...Array.from({ length: 4 }, () => `node ${CLI} call token`),
      // The runtime's own record, taken while it runs: the replicas' processes, and how often each was started.
      `cat .funker/dev.json > state-during-run.json`,
    ].join(" && ");
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    const tokens = result.stdout.trim().split("\n").slice(0, 4);
    expect(tokens).toHaveLength(4);
    expect(new Set(tokens).size).toBe(4);
    // One log line per call, from the process that served it.
    expect(result.stderr.match(/^token\.[12]\s+\| call \S+ ok/gm)).toHaveLength(4);
    // The supervisors themselves never exited: their processes come and go inside them.
    const during = JSON.parse(readFileSync(join(project.root, "state-during-run.json"), "utf8")) as DevState;
    expect(during.functions["token"]?.mode).toBe("fresh");
    expect(during.functions["token"]?.replicas.map((replica) => [replica.state, replica.restarts])).toEqual([
      ["idle", 0],
      ["idle", 0],
    ]);
    expect(result.stderr).not.toMatch(/restarting in/);
    expect(() => state()).toThrow();
  });

  it("under --inspect gives each of its processes an inspector port of its own, which Node prints, beside the supervisor's", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  token:\n    entry: token/handler.ts\n    mode: fresh\n",
      "token/handler.ts": TOKEN,
    });
    const [supervisorPort = 0] = await allocateFreePorts(1);
    const script = `node ${CLI} call token && node ${CLI} call token`;
    const result = await runCli(["dev", `--inspect=${supervisorPort}`, "--no-watch", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^token\\.1: inspector on 127\\.0\\.0\\.1:${supervisorPort} `, "m"));
    const ports = [...result.stderr.matchAll(/^token\.1\s+\| Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//gm)].map((match) => Number(match[1]));
    // The supervisor's own, then one per process: the two that served the calls and those started for the next ones.
    expect(ports[0]).toBe(supervisorPort);
    const processPorts = ports.slice(1);
    expect(processPorts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(processPorts).size).toBe(processPorts.length);
    expect(processPorts).not.toContain(supervisorPort);
    expect(result.stderr).not.toMatch(/address already in use/);
  });
});
