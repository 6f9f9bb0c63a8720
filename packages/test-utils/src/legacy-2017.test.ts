import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { call2017, start2017Function } from "./legacy-2017.js";

// The fixtures stand in for the 2017 library and callers in other tests, so
// they are checked here against the 2017 behaviour that PROTOCOL.md section 3
// describes.
describe("the 2017 fixtures", () => {
  it("serve one call with the reply as JSON, then the function exits 0", async () => {
    await using fn = await start2017Function("add");
    expect(await call2017("127.0.0.1", fn.port, '{"x":1,"y":2}')).toEqual({ exitCode: 0, stdout: "3", stderr: "" });
    expect((await fn.exited).code).toBe(0);
    expect((await call2017("127.0.0.1", fn.port, "{}")).stderr).toBe("ERR ECONNREFUSED");
  });

  it("die on arguments that are not JSON: the Node caller crashes on the empty reply, the Python caller reads null", async () => {
    await using first = await start2017Function("echo");
    const node = await call2017("127.0.0.1", first.port, "{not json");
    expect(node.exitCode).not.toBe(0);
    expect(node.stderr).toMatch(/SyntaxError/);
    expect((await first.exited).code).not.toBe(0);

    await using second = await start2017Function("echo");
    expect(await call2017("127.0.0.1", second.port, "{not json", "python")).toEqual({ exitCode: 0, stdout: "null", stderr: "" });
    expect((await second.exited).stderr).toMatch(/SyntaxError/);
  });

  it("die when the function throws, and the caller gets an empty reply", async () => {
    await using fn = await start2017Function("throws");
    expect((await call2017("127.0.0.1", fn.port, "{}", "python")).stdout).toBe("null");
    const exit = await fn.exited;
    expect(exit.code).not.toBe(0);
    expect(exit.stderr).toMatch(/the function failed/);
  });

  it("wait for the caller's half-close: nothing is read as a call before it", async () => {
    await using fn = await start2017Function("echo");
    const { connect } = await import("node:net");
    const socket = connect(fn.port, "127.0.0.1");
    socket.write('{"a":1}');
    let replied = false;
    socket.on("data", () => (replied = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(replied).toBe(false);
    const reply = new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
      socket.on("end", () => resolve(text));
    });
    socket.end();
    expect(await reply).toBe('{"a":1}');
  });

  it("finish work left running after the reply before the process exits", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "legacy-2017-")), "written");
    await using fn = await start2017Function("reply-then-write");
    expect((await call2017("127.0.0.1", fn.port, JSON.stringify({ file, delayMs: 200 }))).stdout).toBe('"accepted"');
    expect((await fn.exited).code).toBe(0);
    expect(existsSync(file) && readFileSync(file, "utf8")).toBe("written after the reply");
  });
});
