import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { handler } from "@funker/handler";
import { bundleCallerTools } from "../build-images.mjs";
import { LOAD_USAGE, parseLoadCommand } from "./load-options.js";
import type { LoadOptions } from "./load-options.js";
import { latencyFigures } from "./load-run.js";
import type { LoadFigures } from "./load-run.js";
import { freePort, startBlackHole, startServer } from "./test-servers.js";
import type { LocalEndpoint } from "./test-servers.js";

// funker-load as the caller image runs it: the same bundle, in a child
// process, calling real handlers and real sockets on 127.0.0.1 (named
// through FUNKER_ENDPOINTS instead of Docker's DNS).
const folder = mkdtempSync(join(tmpdir(), "funker-load-test-"));
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  await bundleCallerTools(folder);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function funkerLoad(args: readonly string[], endpoints = ""): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, FUNKER_ENDPOINTS: endpoints };
  const child = spawn(process.execPath, [join(folder, "load.mjs"), ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function figuresOf(run: Run): LoadFigures {
  expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
  const lines = run.stdout.trim().split("\n");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? "") as LoadFigures;
}

/** A reuse-mode handler on a free port that runs `fn` for every call, at most `concurrency` at once. */
async function startFunction<Args>(fn: (args: Args) => unknown, concurrency = 1): Promise<string> {
  const server = handler(fn, { port: 0, host: "127.0.0.1", exit: false, log: false, mode: "reuse", concurrency });
  cleanups.push(() => server.close());
  const { host, port } = await server.ready;
  return `${host}:${port}`;
}

async function endpoint(started: Promise<LocalEndpoint>): Promise<LocalEndpoint> {
  const ready = await started;
  cleanups.push(() => ready.close());
  return ready;
}

describe("funker-load's command line", () => {
  test("--help and -h print the usage on standard output and exit 0", async () => {
    for (const flag of ["--help", "-h"]) {
      const run = await funkerLoad(["add", flag]);
      expect(run).toMatchObject({ code: 0, stderr: "" });
      expect(run.stdout).toBe(`${LOAD_USAGE}\n`);
    }
    expect(LOAD_USAGE).toMatch(/^Usage: funker-load <name>[\s\S]*--concurrency <n>[\s\S]*--json/);
  });

  test("a command line it cannot take exits 2 with one line on standard error", async () => {
    const run = await funkerLoad(["add", "--concurrency", "0"]);
    expect(run).toMatchObject({ code: 2, stdout: "", stderr: 'funker-load: --concurrency must be a positive integer up to 1000, not "0"\n' });
  });

  test.each([
    [[], "the name of the function to call is missing"],
    [["add", "--concurrency", "0"], "--concurrency must be a positive integer"],
    [["add", "--concurrency", "2.5"], "--concurrency must be a positive integer"],
    [["add", "--concurrency", "1001"], "--concurrency must be a positive integer up to 1000"],
    [["add", "--seconds", "soon"], "--seconds must be a positive number"],
    [["add", "--seconds", ""], "--seconds must be a positive number"],
    [["add", "--expect", "{"], "--expect is not valid JSON"],
    [["add", "--speed", "9"], "unknown option --speed"],
    [["add", "--speed"], "unknown option --speed"],
    [["add", "--seconds"], "--seconds needs a value"],
    [["add", "x"], 'argument "x" is not key=value'],
    [["add", "x=1", "x=2"], 'argument "x" is given twice'],
    [["add", "x=1", "--data", "{}"], "give the arguments either as key=value words or with --data, not both"],
  ])("%j is refused: %s", (args, message) => {
    expect(() => parseLoadCommand(args)).toThrow(expect.objectContaining({ name: "UsageError", message: expect.stringContaining(message) }));
  });

  test("reads the options, with their defaults", () => {
    expect(parseLoadCommand(["add", "x=1", "name=Ada"])).toEqual({
      kind: "run",
      options: { name: "add", args: { x: 1, name: "Ada" }, seconds: 30, concurrency: 1, expected: undefined, timeoutMs: 10_000, json: false },
    });
    const all = ["add", "--data", '{"x":1}', "--seconds", "0.5", "--concurrency", "4", "--expect", "null", "--timeout", "500", "--json"];
    expect(parseLoadCommand(all)).toEqual({
      kind: "run",
      options: { name: "add", args: { x: 1 }, seconds: 0.5, concurrency: 4, expected: { value: null }, timeoutMs: 500, json: true },
    });
  });

  test("a __proto__= argument is an argument, never the arguments' prototype", () => {
    const command = parseLoadCommand(["add", '__proto__={"polluted":true}']) as { options: LoadOptions };
    const args = command.options.args as Record<string, unknown>;
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(Object.hasOwn(args, "__proto__")).toBe(true);
    expect(JSON.stringify(args)).toBe('{"__proto__":{"polluted":true}}');
  });
});

describe("funker-load's figures", () => {
  test("latency percentiles are nearest-rank: p50 and p99 are latencies that were measured", () => {
    const oneToHundred = Array.from({ length: 100 }, (_, index) => 100 - index);
    expect(latencyFigures(oneToHundred)).toEqual({ p50: 50, p99: 99, max: 100, mean: 50.5 });
    expect(latencyFigures([3.14159, 1])).toEqual({ p50: 1, p99: 3.14, max: 3.14, mean: 2.07 });
    expect(latencyFigures([])).toBeNull();
  });

  test("--concurrency N keeps N calls in flight through one client, and reports their latencies", async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    let served = 0;
    const address = await startFunction(async ({ x, y }: { x: number; y: number }) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await sleep(20);
      inFlight -= 1;
      served += 1;
      return x + y;
    }, 8);

    const figures = figuresOf(await funkerLoad(["add", "x=1", "y=2", "--seconds", "0.5", "--concurrency", "3", "--expect", "3", "--json"], `add=${address}`));
    expect(mostInFlight).toBe(3);
    expect(figures).toMatchObject({ function: "add", concurrency: 3, wrong: 0, failures: {}, failedAttempts: 0, socketsPending: 0 });
    expect(figures.ok).toBe(served);
    expect(figures.calls).toBe(served);
    // One kept connection per loop, all to the one address.
    expect(figures).toMatchObject({ socketsOpened: 3, socketsAnswered: 3, addressesAnswered: 1 });
    const latency = figures.latencyMs;
    expect(latency?.p50).toBeGreaterThanOrEqual(20);
    expect(latency?.p50).toBeLessThanOrEqual(latency?.p99 ?? 0);
    expect(latency?.p99).toBeLessThanOrEqual(latency?.max ?? 0);
    expect(latency?.mean).toBeLessThanOrEqual(latency?.max ?? 0);
    expect(Math.abs(figures.callsPerSecond / (figures.ok / figures.seconds) - 1)).toBeLessThan(0.01);
  });

  test("counts every connection attempt that did not deliver, the ones given up at the connect limit included", async () => {
    // Four loops start together and the client sends each call to the replica with the fewest in
    // flight, so each replica takes one of the first four calls: a black hole (given up at the
    // client's 1 s connect limit), a refusing port, a server that resets a connection once the call
    // arrived (as a single-shot replica resets those queued behind its one call), and the function.
    const blackHole = await endpoint(startBlackHole());
    const refusing = await endpoint(freePort());
    const resetting = await endpoint(startServer((socket) => socket.once("data", () => socket.resetAndDestroy())));
    const answering = await startFunction(({ x, y }: { x: number; y: number }) => x + y, 4);
    const replicas = [blackHole.address, refusing.address, resetting.address, answering].join(",");

    const run = await funkerLoad(["add", "x=1", "y=2", "--seconds", "1.5", "--concurrency", "4", "--expect", "3", "--json"], `add=${replicas}`);
    const figures = figuresOf(run);
    expect(figures).toMatchObject({ wrong: 0, failures: {} });
    expect(figures.ok).toBeGreaterThan(0);
    const causes = figures.failedAttemptsByCause;
    expect(Object.keys(causes).sort()).toEqual(["connect:ECONNREFUSED", "connect:abandoned", "unanswered:ECONNRESET"]);
    expect(causes["connect:abandoned"]).toBeGreaterThanOrEqual(1);
    expect(causes["connect:ECONNREFUSED"]).toBeGreaterThanOrEqual(1);
    expect(causes["unanswered:ECONNRESET"]).toBe(resetting.accepted);
    expect(resetting.accepted).toBeGreaterThanOrEqual(1);
    const failed = Object.values(causes).reduce((sum, count) => sum + count, 0);
    expect(figures.failedAttempts).toBe(failed);
    expect(figures.failedAttemptsPerSuccess).toBe(Number((failed / figures.ok).toPrecision(4)));
    expect(figures.socketsOpened).toBe(figures.socketsAnswered + figures.failedAttempts + figures.socketsPending);
    // A call that started at the black hole waited for the connect limit.
    expect(figures.latencyMs?.max).toBeGreaterThanOrEqual(1_000);
    // Socket errors alone, the figure divided before, miss the attempts given up in silence.
    const errors = Object.values(figures.connectErrors).reduce((sum, count) => sum + count, 0);
    expect(errors).toBe(failed - (causes["connect:abandoned"] ?? 0));
  });

  test("without --json, prints a short summary: calls, rate and latencies, connection attempts, failures", async () => {
    const answering = await startFunction(({ x, y }: { x: number; y: number }) => x + y);
    const refusing = await endpoint(freePort());
    // Two loops: the first two calls go one to each replica.
    const run = await funkerLoad(["add", "x=1", "y=2", "--seconds", "0.3", "--concurrency", "2", "--expect", "4"], `add=${answering},${refusing.address}`);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^add: (\d+) calls in [\d.]+ s, 2 in flight: 0 ok, \1 wrong, 0 failed$/);
    expect(lines[1]).toMatch(/^ {2}0 calls\/s; latency p50 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms, mean [\d.]+ ms$/);
    expect(lines[2]).toMatch(/^ {2}connections: \d+ opened, [12] answered, [1-9]\d* failed: connect:ECONNREFUSED [1-9]\d*$/);
    expect(lines[3]).toBe("  first wrong result: 3");
    expect(lines).toHaveLength(4);
  });
});
