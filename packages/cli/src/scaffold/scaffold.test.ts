import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../config/funker-yml.js";
import { assertBuilt, runCli } from "../test-support.js";

const WORKSPACE = fileURLToPath(new URL("../../../../", import.meta.url));

beforeAll(() => {
  assertBuilt();
  for (const name of ["handler", "testing", "client", "protocol"]) {
    if (!existsSync(join(WORKSPACE, "packages", name, "dist", "index.js"))) {
      throw new Error(`packages/${name}/dist is missing: build first (pnpm exec turbo run build)`);
    }
  }
});

/** A folder outside the workspace whose node_modules holds the workspace's packages and tools, as an install would. */
function scratchFolder(): { root: string } & Disposable {
  const root = mkdtempSync(join(tmpdir(), "funker-new-test-"));
  const modules = join(root, "node_modules");
  mkdirSync(join(modules, "@funker"), { recursive: true });
  for (const name of ["handler", "testing"]) symlinkSync(join(WORKSPACE, "packages", name), join(modules, "@funker", name), "dir");
  for (const name of ["vitest", "typescript", "@types"]) symlinkSync(join(WORKSPACE, "node_modules", name), join(modules, name), "dir");
  // The template's validator, as the example that uses it has it installed.
  symlinkSync(join(WORKSPACE, "examples", "add", "node_modules", "valibot"), join(modules, "valibot"), "dir");
  return { root, [Symbol.dispose]: () => rmSync(root, { recursive: true, force: true }) };
}

function run(command: string, args: readonly string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NO_COLOR: "1", CI: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("funker new", { timeout: 180_000 }, () => {
  it("scaffolds a function that type-checks and passes its own test at once, and adds it to funker.yml", async () => {
    using scratch = scratchFolder();
    const created = await runCli(["new", "word-count"], { cwd: scratch.root });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created word-count\/ \(8 files\) and added "word-count" to funker\.yml/);

    const folder = join(scratch.root, "word-count");
    for (const file of ["package.json", "tsconfig.json", "Dockerfile", "README.md", "src/handler.ts", "src/word-count.ts", "src/word-count.test.ts"]) {
      expect(existsSync(join(folder, file)), file).toBe(true);
    }
    const config = parseConfig(readFileSync(join(scratch.root, "funker.yml"), "utf8"), join(scratch.root, "funker.yml"));
    expect(config.functions.map((spec) => [spec.name, spec.entry, spec.mode])).toEqual([
      ["word-count", join(folder, "src", "handler.ts"), "single-shot"],
    ]);

    const typecheck = await run(process.execPath, [join(WORKSPACE, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], folder);
    expect(typecheck.code, typecheck.output).toBe(0);
    const test = await run(process.execPath, [join(WORKSPACE, "node_modules/vitest/vitest.mjs"), "run", "--root", folder], folder);
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/Tests\s+2 passed/);

    const again = await runCli(["new", "word-count", "--dir", "other"], { cwd: scratch.root });
    expect(again).toMatchObject({ code: 2, stderr: expect.stringMatching(/already has a function "word-count"/) as unknown });
  });

  it("scaffolds a fresh function that `funker dev` serves, each call in a process of its own", async () => {
    using scratch = scratchFolder();
    const created = await runCli(["new", "greet", "--mode", "fresh"], { cwd: scratch.root });
    expect(created.code, created.stderr).toBe(0);
    const config = parseConfig(readFileSync(join(scratch.root, "funker.yml"), "utf8"), join(scratch.root, "funker.yml"));
    expect(config.functions.map((spec) => [spec.name, spec.mode])).toEqual([["greet", "fresh"]]);
    expect(readFileSync(join(scratch.root, "greet", "src", "handler.ts"), "utf8")).toMatch(/^\/\/ Mode fresh \(funker\.yml\): the replica keeps processes of this program$/m);
    const served = await runCli(["dev", "--no-watch", "--", process.execPath, join(WORKSPACE, "packages/cli/dist/bin.js"), "call", "greet", "name=Ada"], { cwd: scratch.root });
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout.trim()).toBe(JSON.stringify("Hello, Ada!"));
    expect(served.stderr).toMatch(/^greet\.1\s+\| call \S+ ok/m);
  });

  it("refuses a mode that is not one", async () => {
    using scratch = scratchFolder();
    const result = await runCli(["new", "greet", "--mode", "sometimes"], { cwd: scratch.root });
    expect(result).toMatchObject({ code: 2, stderr: expect.stringMatching(/--mode must be single-shot, reuse, fresh; got "sometimes"/) as unknown });
  });

  it("refuses a name that is not a valid service name", async () => {
    using scratch = scratchFolder();
    const result = await runCli(["new", "Word_Count"], { cwd: scratch.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/function name "Word_Count" is not a valid Docker service name/);
    expect(existsSync(join(scratch.root, "funker.yml"))).toBe(false);
  });
});
