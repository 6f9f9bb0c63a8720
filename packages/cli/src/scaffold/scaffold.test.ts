import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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
    expect(created.stdout).toMatch(/^created word-count\/ \(9 files\) and added "word-count" to funker\.yml/);

    const folder = join(scratch.root, "word-count");
    for (const file of ["package.json", "tsconfig.json", "vitest.config.ts", "Dockerfile", "README.md", "src/handler.ts", "src/word-count.ts", "src/word-count.test.ts"]) {
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

  it("scaffolds a JavaScript function with --lang js whose tests pass under a parent folder's vitest config", async () => {
    using scratch = scratchFolder();
    // A monorepo's config above the function, with a reporter only its root resolves: the function's own config must win.
    writeFileSync(join(scratch.root, "vitest.config.ts"), `export default { test: { reporters: ["./scripts/summary-reporter.ts"] } };\n`);
    const created = await runCli(["new", "greet", "--lang", "js"], { cwd: scratch.root });
    expect(created.code, created.stderr).toBe(0);
    const folder = join(scratch.root, "greet");
    expect(readdirSync(folder, { recursive: true }).map(String).sort()).toEqual(
      [".dockerignore", "Dockerfile", "README.md", "package.json", "src", "src/greet.js", "src/greet.test.js", "src/handler.js", "vitest.config.js"].sort(),
    );
    const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    expect(manifest.scripts["bundle"]).toMatch(/^esbuild src\/handler\.js /);
    expect(Object.keys(manifest.devDependencies)).not.toContain("typescript");

    const test = await run(process.execPath, [join(WORKSPACE, "node_modules/vitest/vitest.mjs"), "run"], folder);
    expect(test.code, test.output).toBe(0);
    expect(test.output).toMatch(/Tests\s+2 passed/);
    const served = await runCli(["dev", "--no-watch", "--", process.execPath, join(WORKSPACE, "packages/cli/dist/bin.js"), "call", "greet", "name=Ada"], { cwd: scratch.root });
    expect(served.code, served.stderr).toBe(0);
    expect(served.stdout.trim()).toBe(JSON.stringify("Hello, Ada!"));
  });

  it("points the dependencies and npm overrides at the tarballs of --packages, and refuses a folder without them", async () => {
    using scratch = scratchFolder();
    const tarballs = join(scratch.root, "tarballs");
    mkdirSync(tarballs);
    const names = ["protocol", "handler", "client", "testing", "autoscaler", "cli"];
    for (const name of names.slice(1)) writeFileSync(join(tarballs, `funker-${name}-0.1.0.tgz`), "");
    const missing = await runCli(["new", "greet", "--packages", "tarballs"], { cwd: scratch.root });
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringMatching(/--packages: \S+tarballs has no tarball of @funker\/protocol; write them with `pnpm pack:local <folder>`/) as unknown });
    expect(existsSync(join(scratch.root, "funker.yml"))).toBe(false);

    writeFileSync(join(tarballs, "funker-protocol-0.1.0.tgz"), "");
    const created = await runCli(["new", "greet", "--dir", "app/greet", "--packages", "tarballs"], { cwd: scratch.root });
    expect(created.code, created.stderr).toBe(0);
    // funker.yml goes beside the new folder when none is above it.
    expect(existsSync(join(scratch.root, "app", "funker.yml"))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(scratch.root, "app", "greet", "package.json"), "utf8")) as Record<string, Record<string, string>>;
    const file = (name: string): string => `file:${join(tarballs, `funker-${name}-0.1.0.tgz`)}`;
    expect(manifest["dependencies"]).toEqual({ "@funker/handler": file("handler"), valibot: expect.stringMatching(/^\^1\./) });
    expect(manifest["devDependencies"]).toMatchObject({ "@funker/cli": file("cli"), "@funker/testing": file("testing") });
    expect(manifest["overrides"]).toEqual(Object.fromEntries(names.map((name) => [`@funker/${name}`, file(name)])));

    writeFileSync(join(tarballs, "funker-protocol-0.2.0.tgz"), "");
    const twice = await runCli(["new", "other", "--packages", "tarballs"], { cwd: scratch.root });
    expect(twice).toMatchObject({ code: 2, stderr: expect.stringMatching(/has 2 tarballs of @funker\/protocol/) as unknown });
  });

  it("refuses a language that is not one", async () => {
    using scratch = scratchFolder();
    const result = await runCli(["new", "greet", "--lang", "py"], { cwd: scratch.root });
    expect(result).toMatchObject({ code: 2, stderr: expect.stringMatching(/--lang must be ts or js; got "py"/) as unknown });
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
