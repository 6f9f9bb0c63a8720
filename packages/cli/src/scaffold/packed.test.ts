import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const WORKSPACE = fileURLToPath(new URL("../../../../", import.meta.url));

/**
 * The root README's block for a function outside the repository, as written:
 * its lines' words and trailing comments. `../` in a path is the folder
 * beside the clone; the test puts a temporary folder there instead.
 */
function outsideTheRepositoryBlock(): { words: string[]; comment: string }[] {
  const readme = readFileSync(join(WORKSPACE, "README.md"), "utf8");
  const block = [...readme.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "").find((text) => text.includes("pnpm pack:local"));
  if (block === undefined) throw new Error("README.md has no sh block with `pnpm pack:local`");
  return block
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [command = "", ...comment] = line.split(" # ");
      if (/["'$`]/.test(command)) throw new Error(`README.md: the command "${command.trim()}" needs a shell to split it`);
      return { words: command.trim().split(/\s+/), comment: comment.join(" # ").trim() };
    });
}

/** The pnpm running the tests (`pnpm test`), else the version the repository names, through npx. */
function pnpm(): string[] {
  const execPath = process.env["npm_execpath"];
  if (execPath !== undefined && /^pnpm(?:\.c?js|\.mjs)?$/.test(basename(execPath))) {
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, execPath] : [execPath];
  }
  const manifest = JSON.parse(readFileSync(join(WORKSPACE, "package.json"), "utf8")) as { packageManager: string };
  return ["npx", "-y", manifest.packageManager];
}

/** The environment of a shell outside any package manager's or vitest's run: theirs would steer npm and the inner vitest. */
function plainEnvironment(): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { NO_COLOR: "1", CI: "1" };
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(?:npm_|pnpm_|INIT_CWD$|VITEST|NODE_ENV$|TEST$|FORCE_COLOR$)/i.test(key)) environment[key] ??= value;
  }
  return environment;
}

function run(command: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; output: string }> {
  return new Promise((resolve, reject) => {
    const [program = "", ...args] = command;
    const child = spawn(program, args, { cwd, env: plainEnvironment(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => ((stdout += chunk.toString()), (output += chunk.toString())));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, output }));
  });
}

/** `funker dev` in a process group of its own (npx, then node), so that stopping it stops both. */
function startInBackground(command: readonly string[], cwd: string): { child: ChildProcess; waitFor(pattern: RegExp): Promise<void>; stop(): Promise<void> } {
  const [program = "", ...args] = command;
  const child = spawn(program, args, { cwd, env: plainEnvironment(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const signal = (name: NodeJS.Signals): void => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, name);
    } catch {
      // The group is gone already.
    }
  };
  return {
    child,
    async waitFor(pattern) {
      const deadline = Date.now() + 60_000;
      while (!pattern.test(output)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${command.join(" ")} exited first:\n${output}`);
        if (Date.now() > deadline) throw new Error(`${command.join(" ")} printed no ${String(pattern)} within 60 s:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal("SIGTERM");
      const killer = setTimeout(() => signal("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

describe("a function outside the repository, from the packed tarballs (README, Writing a function)", () => {
  const beside = mkdtempSync(join(tmpdir(), "funker-packed-"));
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
    rmSync(beside, { recursive: true, force: true });
  });

  it("packs the published packages, scaffolds from them, installs with npm, passes its test, and is served and called by its own funker", { timeout: 300_000 }, async () => {
    const steps = outsideTheRepositoryBlock();
    expect(steps.map(({ words }) => words.slice(0, 2).join(" "))).toEqual(["pnpm pack:local", "pnpm funker", "cd ../hello/greet", "npm install", "npm test", "npx funker", "npx funker"]);
    const place = (word: string): string => (word.startsWith("../") ? join(beside, word.slice(3)) : word);
    let cwd = WORKSPACE;
    for (const { words, comment } of steps) {
      const command = words.map(place);
      const [program, ...args] = command;
      if (program === "cd") {
        cwd = args[0] ?? cwd;
      } else if (program === "pnpm") {
        const result = await run([...pnpm(), ...args], cwd);
        expect(result.code, result.output).toBe(0);
      } else if (words.join(" ") === "npx funker dev") {
        const dev = startInBackground(command, cwd);
        stops.push(() => dev.stop());
        await dev.waitFor(/^ready: /m);
      } else if (words.slice(0, 2).join(" ") === "npx funker") {
        const answer = /"[^"]*"/.exec(comment)?.[0];
        expect(answer, `the README's comment on ${words.join(" ")} shows the answer`).toBeDefined();
        const result = await run(command, cwd);
        expect(result.code, result.output).toBe(0);
        expect(result.stdout.trim()).toBe(answer);
      } else {
        const result = await run(command, cwd);
        expect(result.code, result.output).toBe(0);
        if (words.join(" ") === "npm test") expect(result.output).toMatch(/Tests\s+2 passed/);
      }

      if (words.join(" ").startsWith("pnpm pack:local")) {
        expect(readdirSync(place(words[2] ?? "")).sort()).toEqual([
          expect.stringMatching(/^funker-autoscaler-\d\S*\.tgz$/),
          expect.stringMatching(/^funker-cli-\d\S*\.tgz$/),
          expect.stringMatching(/^funker-client-\d\S*\.tgz$/),
          expect.stringMatching(/^funker-handler-\d\S*\.tgz$/),
          expect.stringMatching(/^funker-protocol-\d\S*\.tgz$/),
          expect.stringMatching(/^funker-testing-\d\S*\.tgz$/),
        ]);
      }
      if (words[0] === "npm" && words[1] === "install") {
        // The CLI the function installed is the packed one, with its dependencies on the other tarballs resolved to them.
        const lock = JSON.parse(readFileSync(join(cwd, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string }> };
        for (const name of ["cli", "protocol", "client", "autoscaler", "handler", "testing"]) {
          expect(lock.packages[`node_modules/@funker/${name}`]?.resolved, name).toMatch(new RegExp(`^file:.*funker-${name}-\\d\\S*\\.tgz$`));
        }
      }
    }
  });
});
