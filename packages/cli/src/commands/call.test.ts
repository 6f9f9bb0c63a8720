import { relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { assertBuilt, CLI, makeProject, runCli } from "../test-support.js";
import { UsageError } from "./command.js";
import { call, parseKeyValueArguments } from "./call.js";

describe("key=value arguments", () => {
  it("are said by funker call --help to be parsed as JSON, falling back to the string as written", () => {
    expect(call.help).toMatch(/Each value of\nkey=value is parsed as JSON .* and falls back to the string as written when it is not JSON/s);
  });

  it("reads JSON values and keeps other text as strings", () => {
    expect(parseKeyValueArguments(["x=1", "ok=true", "name=Ada", 'id="42"', "tags=[1,2]", "empty=", "eq=a=b"])).toEqual({
      x: 1,
      ok: true,
      name: "Ada",
      id: "42",
      tags: [1, 2],
      empty: "",
      eq: "a=b",
    });
  });

  it("rejects words that are not key=value, and repeated keys", () => {
    expect(() => parseKeyValueArguments(["x"])).toThrow(UsageError);
    expect(() => parseKeyValueArguments(["=1"])).toThrow('argument "=1" has no name before "="');
    expect(() => parseKeyValueArguments(["x=1", "x=2"])).toThrow('argument "x" is given twice');
  });
});

describe("funker call against examples/add under funker dev", { timeout: 120_000 }, () => {
  it("refuses x=notanumber with bad_arguments naming x, as the example's schema says, and adds numbers", async () => {
    assertBuilt();
    const example = fileURLToPath(new URL("../../../../examples/add/src/handler.ts", import.meta.url));
    using project = makeProject({});
    const { root } = project;
    project.write("funker.yml", `version: 1\nfunctions:\n  add:\n    entry: ${relative(root, example)}\n`);
    const script = `node ${CLI} call add x=notanumber y=2; echo "exit $?"; node ${CLI} call add x=1 y=2`;
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], { cwd: root });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^error bad_arguments: the arguments do not match the function's schema: .* at x$/m);
    expect(result.stdout).toBe("exit 1\n3\n");
  });
});
