import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { HELP } from "./registry.js";
import { assertBuilt, runCli } from "../test-support.js";

describe("help", () => {
  it("is quoted word for word in the README", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const [verb, text] of Object.entries(HELP)) expect(readme, `funker ${verb} --help`).toContain(text);
  });

  it("is printed by every verb's --help", { timeout: 60_000 }, async () => {
    assertBuilt();
    for (const verb of ["dev", "call", "new", "ls", "status", "logs", "build", "deploy", "compose", "rm"] as const) {
      const result = await runCli([verb, "--help"], { cwd: tmpdir() });
      expect(result).toEqual({ code: 0, stdout: `${HELP[verb]}\n`, stderr: "" });
    }
    const unknown = await runCli(["unheard-of"], { cwd: tmpdir() });
    expect(unknown).toMatchObject({ code: 2, stderr: 'funker: unknown command "unheard-of"; see funker --help\n' });
  });
});
