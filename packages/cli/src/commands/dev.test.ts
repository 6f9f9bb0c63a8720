import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { isPortFree } from "../dev/ports.js";
import { assertBuilt, CLI, handlerSource, makeProject, runCli } from "../test-support.js";

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

  it("runs only the functions named, and refuses a name that funker.yml lacks", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n  broken:\n    entry: broken/handler.ts\n",
      "add/handler.ts": ADD,
      // Not named, so never built: its missing import would fail the build.
      "broken/handler.ts": 'import "./missing.js";\n',
    });
    const result = await runCli(["dev", "add", "--no-watch", "--", "node", CLI, "call", "add", "x=1", "y=2"], { cwd: project.root });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe("3\n");
    expect(result.stderr).toMatch(/^building 1 function from funker\.yml$/m);
    expect(result.stderr).not.toMatch(/broken/);

    const unknown = await runCli(["dev", "nope", "--", "true"], { cwd: project.root });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no function "nope" in funker.yml (functions: add, broken); put a command to run after --');
  });

  it("runs replicas under Node's inspector with --inspect, one port each, printed at start", async () => {
    using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n    replicas: 2\n", "add/handler.ts": ADD });
    const base = await freeConsecutivePorts(2);
    // The inspector's HTTP endpoint lists the process it debugs.
    const probe = `Promise.all([${base}, ${base + 1}].map((port) => fetch("http://127.0.0.1:" + port + "/json/list").then((r) => r.json()))).then((lists) => console.log(lists.map((list) => list.length).join(",")))`;
    const result = await runCli(["dev", `--inspect=${base}`, "--no-watch", "--", "node", "-e", probe], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(new RegExp(`^add\\.1: inspector on 127\\.0\\.0\\.1:${base} `, "m"));
    expect(result.stderr).toMatch(new RegExp(`^add\\.2: inspector on 127\\.0\\.0\\.1:${base + 1} `, "m"));
    expect(result.stdout).toBe("1,1\n");
  });
});

/** A first port with `count - 1` free ones after it, found by listening on them. */
async function freeConsecutivePorts(count: number): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const first = (server.address() as AddressInfo).port;
    server.close();
    if (first + count - 1 > 65_535) continue;
    const checks = await Promise.all(Array.from({ length: count }, (_, offset) => isPortFree(first + offset)));
    if (checks.every((check) => check.free)) return first;
  }
}
