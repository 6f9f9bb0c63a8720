import { beforeAll, describe, expect, it } from "vitest";
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
});
