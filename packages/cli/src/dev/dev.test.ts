import { createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readSocketTable } from "./ports.js";
import type { DevState } from "./state.js";
import { LEGACY_2017_FOLDER } from "@funker/test-utils";
import { assertBuilt, CLI, handlerSource, isAlive, makeProject, runCli, startCli, WAIT_MS } from "../test-support.js";

beforeAll(assertBuilt);

const ADD = handlerSource("({ x, y }: { x: number; y: number }) => x + y");
const DOUBLE = handlerSource(
  `async ({ x }: { x: number }) => (await call("add", { x, y: x })) as number`,
  'import { call } from "@funker/client";',
);

const TWO_FUNCTIONS = `version: 1
functions:
  add:
    entry: add/handler.ts
    replicas: 2
  double:
    entry: double/handler.ts
    mode: reuse
`;

function readDevState(root: string): DevState {
  return JSON.parse(readFileSync(join(root, ".funker", "dev.json"), "utf8")) as DevState;
}

function replicaPids(state: DevState): number[] {
  return Object.values(state.functions).flatMap((status) => status.replicas.flatMap((replica) => (replica.pid === undefined ? [] : [replica.pid])));
}

/**
 * Whether a process has ended: gone from /proc, or a zombie. A replica whose
 * runtime was killed belongs to PID 1 afterwards, which may never reap it.
 */
function hasEnded(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return true;
  }
  // The state letter follows the command name, which is in parentheses and may hold anything.
  const state = stat.slice(stat.lastIndexOf(")") + 2).charAt(0);
  return state === "Z" || state === "X";
}

describe("funker dev", { timeout: 120_000 }, () => {
  it("runs the command after -- with FUNKER_ENDPOINTS, serves calls, restarts single-shot replicas, and exits with the command's code", async () => {
    using project = makeProject({ "funker.yml": TWO_FUNCTIONS, "add/handler.ts": ADD, "double/handler.ts": DOUBLE });
    const script = [
      'echo "endpoints=$FUNKER_ENDPOINTS"',
      `node ${CLI} call add x=1 y=2`,
      `node ${CLI} call add x=3 y=4`,
      `node ${CLI} call add x=5 y=6`,
      `node ${CLI} call double x=21`,
      "exit 7",
    ].join(" && ");
    const result = await runCli(["dev", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(7);
    expect(result.stdout).toMatch(/^endpoints=add=127\.0\.0\.1:\d+,127\.0\.0\.1:\d+;double=127\.0\.0\.1:\d+$/m);
    // A function calling a function: double calls add through FUNKER_ENDPOINTS.
    expect(result.stdout.split("\n").slice(1, 5)).toEqual(["3", "7", "11", "42"]);
    // Output is prefixed by function and replica; add served four calls in all (one for double).
    expect(result.stderr.match(/^add\.[12]\s+\| call \S+ ok/gm)).toHaveLength(4);
    expect(result.stderr).toMatch(/^double\.1\s+\| call \S+ ok/m);
    // Every single-shot exit was a normal replacement, never a failure.
    expect(result.stderr).not.toMatch(/restarting in/);
  });

  it("gives each volume a local folder, shared by the functions that name it, and points the variables naming its target there", async () => {
    const volumeProject = `version: 1
functions:
  write:
    entry: write/handler.ts
    environment: { NOTES_DIR: /notes, NOTES_FILE: /notes/today.txt, OTHER: /notesy }
    volumes: ["notes:/notes"]
  read:
    entry: read/handler.ts
    mode: reuse
    environment: { NOTES_FILE: /shared/today.txt }
    volumes: ["notes:/shared:ro"]
`;
    using project = makeProject({
      "funker.yml": volumeProject,
      "write/handler.ts": handlerSource(
        `({ text }: { text: string }) => { writeFileSync(process.env["NOTES_FILE"] ?? "", text); return [process.env["NOTES_DIR"], process.env["OTHER"]]; }`,
        'import { writeFileSync } from "node:fs";',
      ),
      "read/handler.ts": handlerSource(`() => readFileSync(process.env["NOTES_FILE"] ?? "", "utf8")`, 'import { readFileSync } from "node:fs";'),
    });
    const script = [`node ${CLI} call write text=hello`, `node ${CLI} call read`].join(" && ");
    const result = await runCli(["dev", "--no-watch", "--volumes", "local-volumes", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    const folder = join(project.root, "local-volumes", "notes");
    expect(result.stdout.split("\n").slice(0, 2)).toEqual([JSON.stringify([folder, "/notesy"]), JSON.stringify("hello")]);
    expect(readFileSync(join(folder, "today.txt"), "utf8")).toBe("hello");
    expect(result.stderr).toMatch(/^write: volume notes:\/notes is the folder local-volumes\/notes here \(nothing is mounted\)$/m);
  });

  it("gives a function its declared secrets in a private folder for the run, where FUNKER_SECRETS_DIR points, and never prints them", async () => {
    const signingKey = "correct horse battery staple 7f3a";
    using project = makeProject({
      "funker.yml": `version: 1
functions:
  sign:
    entry: sign/handler.ts
    mode: reuse
    secrets: [signing-key]
    environment: { SIGNING_KEY_FILE: /run/secrets/signing-key }
  plain:
    entry: plain/handler.ts
`,
      "secrets/signing-key": signingKey,
      // The function's code is what it would be on Docker: readSecret reads /run/secrets unless told otherwise.
      "sign/handler.ts": handlerSource(
        `({ text }: { text: string }) => {
  const folder = dirname(secretPath("signing-key"));
  const key = readSecret("signing-key");
  return {
    signature: createHmac("sha256", key).update(text).digest("hex"),
    sameFileThroughVariable: readFileSync(process.env["SIGNING_KEY_FILE"] ?? "", "utf8") === key,
    folder,
    files: readdirSync(folder),
    modes: [dirname(folder), folder, join(folder, "signing-key")].map((path) => (statSync(path).mode & 0o777).toString(8)),
  };
}`,
        'import { createHmac } from "node:crypto";\nimport { readdirSync, readFileSync, statSync } from "node:fs";\nimport { dirname, join } from "node:path";\nimport { readSecret, secretPath } from "@funker/handler";',
      ),
      "plain/handler.ts": handlerSource(`() => process.env["FUNKER_SECRETS_DIR"] ?? null`),
    });
    const script = [`node ${CLI} call sign text=hello`, `node ${CLI} call plain`].join(" && ");
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], {
      cwd: project.root,
      env: { FUNKER_SECRETS_DIR: join(project.root, "secrets") },
    });

    expect(result.code, result.stderr).toBe(0);
    const [signed, plain] = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as unknown);
    expect(signed).toEqual({
      signature: createHmac("sha256", signingKey).update("hello").digest("hex"),
      sameFileThroughVariable: true,
      folder: expect.stringMatching(/\/funker-secrets-\d+-[^/]+\/sign$/),
      files: ["signing-key"],
      modes: ["700", "700", "600"],
    });
    // A function that declares no secret gets no folder, not even one inherited from funker dev's environment.
    expect(plain).toBeNull();
    const folder = (signed as { folder: string }).folder;
    expect(existsSync(dirname(folder)), "the run's copy outlived the run").toBe(false);
    expect(`${result.stdout}${result.stderr}`).not.toContain(signingKey);
    expect(result.stderr).toMatch(/^sign: secrets signing-key from secrets\/, copied to the private folder FUNKER_SECRETS_DIR names \(\/run\/secrets on Docker\)$/m);
  });

  it("removes the secrets' copy of a run killed with SIGKILL when it next starts", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  where:\n    entry: where.ts\n    mode: reuse\n    secrets: [token]\n",
      "where.ts": handlerSource(`() => process.env["FUNKER_SECRETS_DIR"]`),
      "secrets/token": "t0ken",
    });
    await using killed = startCli(["dev", "--no-watch"], { cwd: project.root });
    await killed.waitForStderr(/^ready: /m);
    const folder = JSON.parse((await runCli(["call", "where"], { cwd: project.root })).stdout) as string;
    killed.child.kill("SIGKILL");
    await killed.exited;
    expect(existsSync(folder)).toBe(true);

    const next = await runCli(["dev", "--no-watch", "--", "true"], { cwd: project.root });
    expect(next.code, next.stderr).toBe(0);
    expect(existsSync(dirname(folder))).toBe(false);
  });

  it("is found by funker call, ls and status in another terminal, and stops every replica on Ctrl-C", async () => {
    using project = makeProject({ "funker.yml": TWO_FUNCTIONS, "add/handler.ts": ADD, "double/handler.ts": DOUBLE });
    await using dev = startCli(["dev"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);

    const first = await runCli(["call", "add", "x=1", "y=2"], { cwd: join(project.root, "add") });
    expect(first).toMatchObject({ code: 0, stdout: "3\n" });
    const viaData = await runCli(["call", "add", "--data", '{"x":2,"y":2}', "--json"], { cwd: project.root });
    expect(JSON.parse(viaData.stdout)).toEqual({ ok: true, result: 4 });
    const viaStdin = await runCli(["call", "add"], { cwd: project.root, input: '{"x":5,"y":5}' });
    expect(viaStdin.stdout).toBe("10\n");
    const legacy = await runCli(["call", "add", "x=1", "y=1", "--legacy"], { cwd: project.root });
    expect(legacy.stdout).toBe("2\n");

    const unknown = await runCli(["call", "nope"], { cwd: project.root });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('error not_found: no function "nope" in the running funker dev (functions: add, double)\n');

    const list = await runCli(["ls", "--json"], { cwd: project.root });
    const listed = JSON.parse(list.stdout) as { running: boolean; functions: { name: string; endpoints: string[] }[] };
    expect(listed.running).toBe(true);
    expect(listed.functions.map((fn) => [fn.name, fn.endpoints.length])).toEqual([
      ["add", 2],
      ["double", 1],
    ]);

    // Each call replaced a single-shot process; the state file catches up within its write delay.
    await expect.poll(() => readDevState(project.root).functions["add"]?.replicas.reduce((sum, replica) => sum + replica.calls, 0), { timeout: WAIT_MS }).toBe(4);
    // A replica is replaced when its process closes, a moment after its call was logged.
    const addStatus = async () => {
      const status = await runCli(["status", "--json"], { cwd: project.root });
      return (JSON.parse(status.stdout) as { functions: Record<string, { calls: number; recycles: number; restarts: number; state: string }[]> }).functions["add"] ?? [];
    };
    // Each was a normal recycle, not a restart after a failure.
    await expect.poll(async () => (await addStatus()).reduce((sum, replica) => sum + replica.recycles, 0), { timeout: WAIT_MS }).toBe(4);
    const addReplicas = await addStatus();
    expect(addReplicas.map((replica) => replica.restarts)).toEqual([0, 0]);
    expect(addReplicas.every((replica) => ["idle", "starting", "busy"].includes(replica.state))).toBe(true);
    const table = await runCli(["status"], { cwd: project.root });
    expect(table.stdout).toMatch(/^REPLICA\s+PORT\s+PID\s+STATE\s+CALLS\s+FAILED\s+RECYCLED\s+RESTARTS\s+LAST ERROR$/m);
    expect(table.stdout, table.stdout).toMatch(/^double\.1\s+\d+\s+\d+\s+idle\s+0\s+0\s+0\s+0\s+-$/m);

    await expect.poll(() => replicaPids(readDevState(project.root)).length, { timeout: WAIT_MS }).toBe(3);
    const pids = replicaPids(readDevState(project.root));
    dev.child.kill("SIGINT");
    expect((await dev.exited).code).toBe(130);
    for (const pid of pids) expect(isAlive(pid), `replica ${pid} still runs`).toBe(false);
    expect(dev.stderr()).toMatch(/stopped every function/);

    const after = await runCli(["call", "add", "x=1", "y=2"], { cwd: project.root });
    expect(after.code).toBe(3);
    expect(after.stderr).toMatch(/no running funker dev for .*funker\.yml/);
  });

  it("serves a function that runs the 2017 library: funker call finds out what it speaks and answers 3; pinned to legacy in funker.yml, no replica is lost to a probe", async () => {
    const legacyFiles = Object.fromEntries(["funker.cjs", "serve.cjs"].map((file) => [`legacy/${file}`, readFileSync(join(LEGACY_2017_FOLDER, file), "utf8")]));
    const calls = [`node ${CLI} call add x=1 y=2`, `node ${CLI} call add x=3 y=4`].join(" && ");
    {
      using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: legacy/serve.cjs\n    replicas: 2\n", ...legacyFiles });
      const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", calls], { cwd: project.root });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe("3\n7\n");
      // Each call's fresh client probed twice; each probed 2017 replica died on the preface it could not parse.
      expect(result.stderr).toMatch(/is not valid JSON/);
    }
    {
      using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: legacy/serve.cjs\n    replicas: 2\n    protocol: legacy\n", ...legacyFiles });
      const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", `echo "$FUNKER_ENDPOINTS" && ${calls}`], { cwd: project.root });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/^add@legacy=127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\n3\n7\n$/);
      expect(result.stderr).not.toMatch(/is not valid JSON|restarting in/);
    }
  });

  it("ends every replica within seconds when funker dev itself is killed with SIGKILL, and the functions see no difference before", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n    replicas: 2\n  look:\n    entry: look/handler.ts\n    mode: reuse\n",
      "add/handler.ts": ADD,
      "look/handler.ts": handlerSource(
        `() => Object.keys(process.env).filter((name) => name.startsWith("FUNKER_RUNTIME"))`,
        'console.log("look is up");\nconsole.error("look writes to stderr");',
      ),
    });
    await using dev = startCli(["dev", "--no-watch"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);
    // The function's own lines pass through as before, and the variable that names the pipe was gone before it ran.
    expect(dev.stderr()).toMatch(/^look\.1\s+\| look is up$/m);
    expect(dev.stderr()).toMatch(/^look\.1\s+\| look writes to stderr$/m);
    const looked = await runCli(["call", "look"], { cwd: project.root });
    expect(JSON.parse(looked.stdout)).toEqual([]);
    expect((await runCli(["call", "add", "x=1", "y=2"], { cwd: project.root })).stdout).toBe("3\n");

    await expect.poll(() => replicaPids(readDevState(project.root)).length, { timeout: WAIT_MS }).toBe(3);
    // The single-shot replica that served the call is replaced; wait until the state file names its successor.
    await expect.poll(() => replicaPids(readDevState(project.root)).filter(hasEnded), { timeout: WAIT_MS }).toEqual([]);
    const state = readDevState(project.root);
    const pids = replicaPids(state);
    const ports = Object.values(state.functions).flatMap((status) => status.replicas.map((replica) => replica.port));
    // Should the replicas outlive the test after all, they must not outlive the test run.
    using _leftovers = { [Symbol.dispose]: () => pids.filter((pid) => !hasEnded(pid)).forEach((pid) => process.kill(pid, "SIGKILL")) };

    dev.child.kill("SIGKILL");
    expect((await dev.exited).signal).toBe("SIGKILL");
    await expect.poll(() => pids.filter((pid) => !hasEnded(pid)), { timeout: 10_000, interval: 100 }).toEqual([]);
    const table = await readSocketTable();
    expect(ports.filter((port) => table?.listening.has(port))).toEqual([]);
  });

  it("replaces a replica killed again and again after it started as the deployment would: at once, never backing off", async () => {
    using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n", "add/handler.ts": ADD });
    await using dev = startCli(["dev", "--no-watch"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);
    const killed = new Set<number>();
    for (let kill = 1; kill <= 8; kill += 1) {
      // The slot's next process, once funker dev has seen it listening.
      await expect
        .poll(() => readDevState(project.root).functions["add"]?.replicas[0], { timeout: WAIT_MS })
        .toMatchObject({ state: "idle", pid: expect.not.toSatisfy((pid: number) => killed.has(pid)) as number });
      const pid = readDevState(project.root).functions["add"]?.replicas[0]?.pid as number;
      killed.add(pid);
      process.kill(pid, "SIGKILL");
      await dev.waitForStderr(new RegExp(`was killed by SIGKILL after [^;]+; restarting at once \\(failure 1 in a row\\)(?:[^]*?was killed by SIGKILL){${kill - 1}}`));
    }
    expect(dev.stderr()).not.toMatch(/restarting in/);
    expect((await runCli(["call", "add", "x=1", "y=2"], { cwd: project.root })).stdout).toBe("3\n");
  });

  it("has its replicas send the function's stacks, unless the function's environment says otherwise", async () => {
    const readX = handlerSource("(args: { x: number }) => args.x");
    const report = [
      'import { call } from "@funker/client";',
      'for (const name of ["loud", "quiet"]) {',
      "  const error = await call(name, null).then(() => undefined, (thrown) => thrown);",
      "  console.log(JSON.stringify({ name, code: error?.code, remoteName: error?.remoteName, stack: error?.remoteStack ?? null }));",
      "}",
    ].join("\n");
    const config = "version: 1\nfunctions:\n  loud:\n    entry: loud.ts\n  quiet:\n    entry: quiet.ts\n    environment: { FUNKER_EXPOSE_STACKS: false }\n";
    using project = makeProject({ "funker.yml": config, "loud.ts": readX, "quiet.ts": readX, "report.mjs": report });
    const result = await runCli(["dev", "--no-watch", "--", "node", "report.mjs"], { cwd: project.root, env: { FUNKER_EXPOSE_STACKS: undefined } });
    expect(result.code, result.stderr).toBe(0);
    const [loud, quiet] = result.stdout.trim().split("\n").map((line) => JSON.parse(line) as { code: string; remoteName: string; stack: string | null });
    expect(loud).toMatchObject({ name: "loud", code: "handler_error", remoteName: "TypeError" });
    expect(loud?.stack).toContain("TypeError: Cannot read properties of null (reading 'x')");
    expect(loud?.stack).toContain(project.root);
    expect(quiet).toEqual({ name: "quiet", code: "handler_error", remoteName: "TypeError", stack: null });
  });

  it("rebuilds and restarts a function when its source changes", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  greet:\n    entry: greet/src/handler.ts\n    mode: reuse\n",
      "greet/src/handler.ts": handlerSource("() => greeting", 'import { greeting } from "./greeting.js";'),
      "greet/src/greeting.ts": 'export const greeting = "hello";\n',
    });
    await using dev = startCli(["dev"], { cwd: project.root });
    await dev.waitForStderr(/^ready: /m);
    expect((await runCli(["call", "greet"], { cwd: project.root })).stdout).toBe('"hello"\n');

    project.write("greet/src/greeting.ts", "export const greeting = = ;\n");
    await dev.waitForStderr(/greet: build failed; the replicas keep running the previous build\n.*Unexpected "="\n\s+greet\/src\/greeting\.ts:1:24:/);
    expect((await runCli(["call", "greet"], { cwd: project.root })).stdout).toBe('"hello"\n');

    project.write("greet/src/greeting.ts", 'export const greeting = "bonjour";\n');
    await dev.waitForStderr(/✓ greet rebuilt/);
    await expect.poll(async () => (await runCli(["call", "greet"], { cwd: project.root })).stdout, { timeout: WAIT_MS }).toBe('"bonjour"\n');
  });
});

/** A service for the tests: an HTTP server on PORT and HOST, as funker dev tells it, that answers with its folder and pid. */
const STORE_SERVICE = `import { createServer } from "node:http";
const server = createServer((request, response) => response.end(JSON.stringify({ folder: process.env.STORE_DIR, pid: process.pid })));
server.listen(Number(process.env.PORT), process.env.HOST, () => console.log("store listening on " + process.env.HOST + ":" + process.env.PORT));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

describe("funker dev with services", { timeout: 120_000 }, () => {
  it("runs each service's command before the functions, gives functions its local address in place of <name>:<port>, and stops it last", async () => {
    using project = makeProject({
      "funker.yml": `version: 1
functions:
  ask:
    entry: ask.ts
    environment: { STORE_URL: "http://store:7000/anything" }
services:
  store:
    command: node store.mjs
    image: example/store
    port: 7000
    environment: { STORE_DIR: /data }
    volumes: ["data:/data"]
`,
      "ask.ts": handlerSource(`async () => [process.env["STORE_URL"], await (await fetch(process.env["STORE_URL"] ?? "")).json()]`),
      "store.mjs": STORE_SERVICE,
    });
    const script = ['echo "services=$FUNKER_SERVICES"', `node ${CLI} call ask`, `node ${CLI} status`].join(" && ");
    const result = await runCli(["dev", "--no-watch", "--", "sh", "-c", script], { cwd: project.root });

    expect(result.code, result.stderr).toBe(0);
    const port = /^services=store=127\.0\.0\.1:(\d+)$/m.exec(result.stdout)?.[1];
    expect(port).toBeDefined();
    const [url, answer] = JSON.parse(result.stdout.split("\n")[1] ?? "") as [string, { folder: string; pid: number }];
    expect(url).toBe(`http://127.0.0.1:${port}/anything`);
    // The service's own variables are made local as a function's are: its volume's target names the local folder.
    expect(answer.folder).toBe(join(project.root, ".funker", "volumes", "data"));
    expect(result.stderr).toMatch(new RegExp(`^store\\s+\\| store listening on 127\\.0\\.0\\.1:${port}$`, "m"));
    // funker status shows it as a slot of its own (its pid is the shell's that runs the command line).
    expect(result.stdout).toMatch(new RegExp(`^store\\s+${port}\\s+\\d+\\s+running\\s+-\\s+-\\s+-\\s+0\\s+-$`, "m"));
    expect(result.stderr).toMatch(new RegExp(`ready: FUNKER_ENDPOINTS=ask=127\\.0\\.0\\.1:\\d+, FUNKER_SERVICES=store=127\\.0\\.0\\.1:${port}`));
    expect(hasEnded(answer.pid)).toBe(true);
  });

  it("restarts a service that exits, with the back-off, and gives up on a command when it never listens", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\nservices:\n  flaky:\n    command: exit 0\n    port: 7000\n",
      "add.ts": ADD,
    });
    const result = await runCli(["dev", "--no-watch", "--", "echo", "never printed"], { cwd: project.root });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    // Any exit of a service is a failure, exit 0 included: services run until stopped.
    expect(result.stderr).toMatch(/^flaky\s+\| exited with code 0 after .*; restarting in 100 ms \(failure 1 in a row\)$/m);
    expect(result.stderr).toMatch(/flaky failed to start 5 times in a row \(last: exited with code 0\)/);
  });

  it("refuses a publish port in use, and gives a free one with --no-publish", async () => {
    await using blocker = await listenAnywhere();
    using project = makeProject({
      "funker.yml": `version: 1\nfunctions:\n  add:\n    entry: add.ts\nservices:\n  web:\n    command: node web.mjs\n    port: 7000\n    publish: ${blocker.port}\n`,
      "add.ts": ADD,
      "web.mjs": STORE_SERVICE,
    });
    const refused = await runCli(["dev", "--no-watch", "--", "true"], { cwd: project.root });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`port ${blocker.port} of service web (publish) on 127.0.0.1 is in use by another process; stop what listens there, or run with --no-publish`);
    const elsewhere = await runCli(["dev", "--no-watch", "--no-publish", "--", "sh", "-c", 'echo "$FUNKER_SERVICES"'], { cwd: project.root });
    expect(elsewhere.code, elsewhere.stderr).toBe(0);
    expect(elsewhere.stdout.trim()).toMatch(/^web=127\.0\.0\.1:\d+$/);
    expect(elsewhere.stdout.trim()).not.toBe(`web=127.0.0.1:${blocker.port}`);
  });
});

describe("funker dev with bad input", { timeout: 120_000 }, () => {
  it("names the line of a broken funker.yml", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n    replicas: two\n  Bad_Name:\n    entry: add.ts\n",
      "add.ts": ADD,
    });
    const result = await runCli(["dev"], { cwd: project.root });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('funker.yml:5:15: functions.add.replicas must be a whole number from 0 to 100, got "two"');
    expect(result.stderr).toContain('funker.yml:6:3: function name "Bad_Name" is not a valid Docker service name');
  });

  it("refuses to start when a declared secret has no local file, naming the secret, the line that declares it and where to put it", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n    secrets: [api-key, db-password, tls]\n",
      "add.ts": ADD,
      "secrets/api-key": "present",
      "secrets/tls/cert.pem": "a folder is not a secret's file",
    });
    const result = await runCli(["dev", "--", "true"], { cwd: project.root });
    expect(result).toEqual({
      code: 2,
      stdout: "",
      stderr: [
        'funker.yml:5:24: functions.add.secrets: the secret "db-password" has no local value for funker dev: write it to the file secrets/db-password (or give another folder with --secrets)',
        'funker.yml:5:37: functions.add.secrets: the secret "tls" has no local value for funker dev: secrets/tls is not a file; write the value to a file of that name (or give another folder with --secrets)',
        "",
      ].join("\n"),
    });
    const elsewhere = await runCli(["dev", "--secrets", "elsewhere", "--", "true"], { cwd: project.root });
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain('the secret "api-key" has no local value for funker dev: write it to the file elsewhere/api-key');
  });

  it("reports a function that fails to build, with its file and line, and starts nothing", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n  broken:\n    entry: broken.ts\n",
      "add.ts": ADD,
      "broken.ts": 'import { handler } from "@funker/handler";\nimport { nothing } from "./missing.js";\nhandler(() => nothing);\n',
    });
    const result = await runCli(["dev", "--", "true"], { cwd: project.root });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/✗ broken: build failed \(broken\.ts\)/);
    expect(result.stderr).toMatch(/broken\.ts:2:\d+:/);
    expect(result.stderr).toMatch(/Could not resolve "\.\/missing\.js"/);
    expect(result.stderr).toMatch(/a function failed to build; nothing was started/);
  });

  it("restarts a function that crashes at start-up with a doubling back-off, and reports it", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  crashy:\n    entry: crashy.ts\n",
      "crashy.ts": 'throw new Error("no database configured");\n',
    });
    await using dev = startCli(["dev"], { cwd: project.root });
    await dev.waitForStderr(/failure 5 in a row/);
    const failures = dev.stderr().match(/^crashy\.1\s+\| exited with code 1 after .*; restarting in .*$/gm) ?? [];
    // Not a busy loop: one start per back-off step, each delay double the last.
    expect(failures.map((line) => /restarting in (.*) \(failure/.exec(line)?.[1])).toEqual(["100 ms", "200 ms", "400 ms", "800 ms", "1.6 s"]);
    expect(dev.stderr()).toMatch(/Error: no database configured/);
    const status = await runCli(["status", "--json"], { cwd: project.root });
    const replica = (JSON.parse(status.stdout) as { functions: Record<string, { recycles: number; restarts: number; lastError: { message: string } }[]> }).functions["crashy"]?.[0];
    expect(replica?.lastError.message).toMatch(/^exited with code 1/);
    // Starts after failures are restarts; none of them a normal recycle.
    expect(replica?.restarts).toBeGreaterThanOrEqual(4);
    expect(replica?.recycles).toBe(0);
  });

  it("gives up on a command when a function never starts", async () => {
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  crashy:\n    entry: crashy.ts\n",
      "crashy.ts": "process.exit(1);\n",
    });
    const result = await runCli(["dev", "--", "echo", "never printed"], { cwd: project.root });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/crashy\.1 failed to start 5 times in a row \(last: exited with code 1/);
  });

  it("refuses a port that is already in use", async () => {
    await using blocker = await listenAnywhere();
    using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n", "add.ts": ADD });
    const result = await runCli(["dev", "--port", String(blocker.port), "--", "true"], { cwd: project.root });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`port ${blocker.port} on 127.0.0.1 is in use by another process`);
  });

  it("reports a replica whose port was taken after start-up", async () => {
    await using blocker = await listenAnywhere();
    // The function listens on a port of its own choosing, already taken: the handler's start-up failure is shown.
    using project = makeProject({
      "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n",
      "add.ts": `process.env.FUNKER_PORT = "${blocker.port}";\nawait import("./real-add.js");\n`,
      "real-add.ts": ADD,
    });
    await using dev = startCli(["dev"], { cwd: project.root });
    const [line] = await dev.waitForStderr(/^add\.1\s+\| exited with code 1 .*$/m);
    expect(line).toContain(`cannot listen on 127.0.0.1:${blocker.port}`);
    expect(line).toContain("EADDRINUSE");
  });
});

describe("funker call with bad input", { timeout: 120_000 }, () => {
  it("rejects arguments that do not parse", async () => {
    using project = makeProject({ "funker.yml": "version: 1\nfunctions:\n  add:\n    entry: add.ts\n", "add.ts": ADD });
    const notPair = await runCli(["call", "add", "x"], { cwd: project.root });
    expect(notPair).toMatchObject({ code: 2, stderr: 'funker: argument "x" is not key=value (use --data \'{"…": …}\' for other JSON)\n' });
    const badJson = await runCli(["call", "add", "--data", "{x:1"], { cwd: project.root });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^funker: --data is not valid JSON: /);
    const badOption = await runCli(["call", "add", "--bogus"], { cwd: project.root });
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/Unknown option '--bogus'/);
  });
});

async function listenAnywhere(): Promise<{ port: number } & AsyncDisposable> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
