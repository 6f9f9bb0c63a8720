import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createClient, FunkerError } from "@funker/client";
import { beforeAll, describe, expect, it } from "vitest";
import type { DevState } from "./state.js";
import { assertBuilt, CLI, handlerSource, makeProject, runCli, startCli } from "../test-support.js";
import type { Project } from "../test-support.js";

beforeAll(assertBuilt);

const OLD_KEY = "old-key-0123456789abcdef";
const NEW_KEY = "new-key-fedcba9876543210";
const PAY_KEY = "pay-key-00112233445566778899";

const ADD = handlerSource("({ x, y }: { x: number; y: number }) => x + y");
const DOUBLE = handlerSource(`async ({ x }: { x: number }) => (await call("add", { x, y: x })) as number`, 'import { call } from "@funker/client";');

const SIGNED = `version: 1
secret: funker-key
functions:
  add: { entry: add/handler.ts, replicas: 2 }
  double: { entry: double/handler.ts, mode: reuse }
  pay: { entry: add/handler.ts, mode: reuse, secret: pay-key }
`;

/** A project of SIGNED's functions (or `config`'s), with the keys' local files. */
function signedProject(config = SIGNED): Project {
  return makeProject({
    "funker.yml": config,
    "add/handler.ts": ADD,
    "double/handler.ts": DOUBLE,
    "secrets/funker-key": `${OLD_KEY}\n`,
    "secrets/pay-key": `${PAY_KEY}\n`,
  });
}

function endpointsOf(root: string): Record<string, string[]> {
  return (JSON.parse(readFileSync(join(root, ".funker", "dev.json"), "utf8")) as DevState).endpoints as Record<string, string[]>;
}

/** The code a call fails with, or "ok". */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "ok";
  } catch (error) {
    return FunkerError.from(error).code;
  }
}

describe("signed calls under funker dev", { timeout: 120_000 }, () => {
  it("gives every replica, every service and the command after -- the keys of secret:, so funker call and functions calling functions sign; other keys are refused", async () => {
    // A service (an app) gets the same keys as the replicas, to sign its own calls.
    const app = `echo "keys=$FUNKER_SECRET_FILE files=$FUNKER_SECRET_FILES text=$FUNKER_SECRET"; exec node -e 'require("node:net").createServer().listen(process.env.PORT)'`;
    using project = signedProject(`${SIGNED}services:\n  app:\n    command: ${JSON.stringify(app)}\n    port: 8080\n`);
    const wrongKey = `env -u FUNKER_SECRET_FILE -u FUNKER_SECRET_FILES FUNKER_SECRET=wrong-key-0123456789abcdef node ${CLI} call add x=1 y=1`;
    const script = [`node ${CLI} call add x=1 y=2`, `node ${CLI} call double x=21`, `node ${CLI} call pay x=2 y=2`, `${wrongKey} || echo "wrong key: exit $?"`].join(" && ");
    // The terminal's own key variables are replaced by funker.yml's, for the replicas and the command alike.
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], { cwd: project.root, env: { FUNKER_SECRET: "inherited-key-0123456789" } });

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split("\n").slice(0, 4)).toEqual(["3", "42", "4", "wrong key: exit 1"]);
    expect(result.stderr).toMatch(/^error unauthenticated: /m);
    expect(result.stderr).toMatch(/^signed calls: keys funker-key, pay-key from secrets\//m);
    expect(result.stderr).toMatch(/^app\s+\| keys=\/\S+\/_keys\/funker-key files=pay=\/\S+\/_keys\/pay-key text=$/m);
    for (const key of [OLD_KEY, PAY_KEY]) expect(result.stderr).not.toContain(key);
  });

  it("signs funker call from another terminal with the key file funker.yml names, and refuses unsigned calls and calls signed with another function's key", async () => {
    using project = signedProject();
    await using dev = startCli(["dev", "--no-watch"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);

    expect(await runCli(["call", "add", "x=1", "y=2"], { cwd: project.root })).toMatchObject({ code: 0, stdout: "3\n" });
    expect(await runCli(["call", "pay", "x=1", "y=2"], { cwd: project.root })).toMatchObject({ code: 0, stdout: "3\n" });

    const endpoints = endpointsOf(project.root);
    await using unsigned = createClient({ endpoints });
    expect(await outcome(unsigned.call("add", { x: 1, y: 1 }))).toBe("unauthenticated");
    await using stackKeyOnly = createClient({ endpoints, secret: OLD_KEY });
    expect(await outcome(stackKeyOnly.call("add", { x: 1, y: 1 }))).toBe("ok");
    expect(await outcome(stackKeyOnly.call("pay", { x: 1, y: 1 }))).toBe("unauthenticated");
  });

  it("passes a rotation of the key file to running replicas: add, promote, retire, under load, without a failed call", async () => {
    // Reuse mode: replicas that run through the whole rotation, which they must follow without a restart.
    using project = signedProject(SIGNED.replace("replicas: 2", "replicas: 2, mode: reuse"));
    await using dev = startCli(["dev", "--no-watch"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);
    const keyFile = join(project.root, "secrets", "funker-key");
    // As an editor saves: a new file renamed over the old, never a half-written one.
    const writeKeys = (...keys: string[]): void => {
      writeFileSync(`${keyFile}.tmp`, `${keys.join("\n")}\n`);
      renameSync(`${keyFile}.tmp`, keyFile);
    };

    // The caller reads the same file as funker dev, as an app given the same secret would.
    await using caller = createClient({ endpoints: endpointsOf(project.root), secretFile: keyFile });
    const failures: string[] = [];
    // Calls answered in each phase: before, then after each of the three writes.
    const calls = [0, 0, 0, 0];
    let phase = 0;
    let loading = true;
    const loop = async (): Promise<void> => {
      for (let x = 1; loading; x += 1) {
        // double signs its own call to add with funker dev's copy of the keys: both hops are checked.
        const code = await outcome(caller.call("double", { x }).then((result) => expect(result).toBe(2 * x)));
        calls[phase] = (calls[phase] ?? 0) + 1;
        if (code !== "ok") failures.push(code);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    // Each step waits past the watch (250 ms) and every reader's once-a-second look at its file.
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 3_000));
    // Add the new key (the old one still signs), promote it (it signs), retire the old one.
    const steps = [[], [OLD_KEY, NEW_KEY], [NEW_KEY, OLD_KEY], [NEW_KEY]];
    for (const [index, keys] of steps.entries()) {
      if (keys.length > 0) writeKeys(...keys);
      phase = index;
      await settle();
    }
    loading = false;
    await Promise.all(loops);

    expect(failures).toEqual([]);
    for (const count of calls) expect(count).toBeGreaterThan(0);
    expect(dev.stderr()).toMatch(/^funker-key: keys changed \(2 keys\), copied for the replicas$/m);
    expect(dev.stderr()).toMatch(/^funker-key: keys changed \(1 key\), copied for the replicas$/m);
    // The old key is retired everywhere: replicas that started before the rotation refuse it now.
    await using oldKey = createClient({ endpoints: endpointsOf(project.root), secret: OLD_KEY });
    expect(await outcome(oldKey.call("double", { x: 1 }))).toBe("unauthenticated");
    await using newKey = createClient({ endpoints: endpointsOf(project.root), secret: NEW_KEY });
    expect(await outcome(newKey.call("double", { x: 1 }))).toBe("ok");
    for (const key of [OLD_KEY, NEW_KEY]) expect(dev.stderr()).not.toContain(key);
  });

  it("refuses to start when the key file is missing or holds a key too short, naming the line of secret:", async () => {
    using project = makeProject({ "funker.yml": SIGNED, "add/handler.ts": ADD, "double/handler.ts": DOUBLE, "secrets/funker-key": "short\n" });
    const result = await runCli(["dev", "--no-watch", "--", "true"], { cwd: project.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^funker\.yml:2:9: secret: the keys "funker-key" have no local value for funker dev: secrets\/funker-key: the key on line 1 has 5 characters; a key needs at least 16/m);
    expect(result.stderr).toMatch(/^funker\.yml:6:54: secret: the keys "pay-key" have no local value for funker dev: write it to the file secrets\/pay-key/m);
    expect(result.stderr).not.toContain("short\n");
  });
});
