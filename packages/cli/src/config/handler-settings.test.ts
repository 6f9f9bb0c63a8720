import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SETTINGS } from "@funker/handler/contract";
import type { Setting } from "@funker/handler/contract";
import { resolveOptions } from "@funker/handler/internal";
import { functionEnvironment } from "../docker/service.js";
import { ConfigError, parseConfig } from "./funker-yml.js";
import { FUNKER_YML_SETTINGS, settingsEnvironment } from "./handler-settings.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "funker-settings-test-"));
  mkdirSync(join(root, "add"));
  writeFileSync(join(root, "add", "handler.ts"), "");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function specOf(settings: string) {
  const config = parseConfig(`version: 1\nfunctions:\n  add:\n    entry: add/handler.ts\n${settings}`, join(root, "funker.yml"));
  return config.functions[0];
}

function issuesOf(settings: string): string[] {
  try {
    specOf(settings);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.message);
    throw error;
  }
  return [];
}

describe("the handler's settings in funker.yml", () => {
  it("are the contract's rows marked for funker.yml, in the table's order", () => {
    expect(FUNKER_YML_SETTINGS).toEqual(Object.keys(SETTINGS).filter((name) => (SETTINGS[name as keyof typeof SETTINGS] as Setting).inFunkerYml === true));
    expect(FUNKER_YML_SETTINGS).toEqual(["mode", "timeout", "concurrency", "maxCalls", "maxConnections", "heapLimitMb", "childEnv", "queueTimeout", "drainTimeout"]);
  });

  it("are checked against the contract's ranges", () => {
    expect(issuesOf("    mode: reuse\n    concurrency: 10001\n    maxCalls: 0\n")).toEqual([
      `functions.add.concurrency must be a whole number from ${SETTINGS.concurrency.min} to ${SETTINGS.concurrency.max}, got 10001`,
      "functions.add.maxCalls must be a whole number 1 or more, got 0",
    ]);
    expect(specOf("    mode: reuse\n    concurrency: 10000\n")?.concurrency).toBe(10_000);
  });

  it("reach the replicas as the variables the handler reads, and the handler resolves them to what funker.yml said", () => {
    const spec = specOf("    mode: reuse\n    timeout: 1m30s\n    concurrency: 4\n    maxCalls: 1000\n");
    if (spec === undefined) throw new Error("no function");
    const environment = settingsEnvironment(spec.name, spec.handlerSettings);
    expect(environment).toEqual({ FUNKER_FUNCTION: "add", FUNKER_MODE: "reuse", FUNKER_TIMEOUT: "90000ms", FUNKER_CONCURRENCY: "4", FUNKER_MAX_CALLS: "1000" });
    expect(resolveOptions({}, environment)).toMatchObject({ name: "add", mode: "reuse", timeoutMs: 90_000, concurrency: 4, maxCalls: 1000 });
    // The Docker verbs pass the same variables, then the function's own.
    expect(functionEnvironment(spec)).toEqual(environment);
  });

  it("refuse what a function's mode does not use, and pass fresh mode's own", () => {
    expect(issuesOf("    mode: fresh\n    maxCalls: 10\n    heapLimitMb: 8\n")).toEqual([
      "functions.add.heapLimitMb must be a whole number from 16 to 1048576, got 8",
      "functions.add.maxCalls applies only to mode: reuse (a fresh replica serves each call in a process of its own)",
    ]);
    expect(issuesOf("    mode: reuse\n    childEnv: PATH\n")).toEqual(["functions.add.childEnv applies only to mode: fresh (a reuse-mode replica serves calls in one process)"]);
    const spec = specOf("    mode: fresh\n    concurrency: 3\n    heapLimitMb: 256\n    childEnv: PATH,HOME\n    queueTimeout: 2s\n");
    if (spec === undefined) throw new Error("no function");
    const environment = settingsEnvironment(spec.name, spec.handlerSettings);
    expect(environment).toEqual({
      FUNKER_FUNCTION: "add",
      FUNKER_MODE: "fresh",
      FUNKER_CONCURRENCY: "3",
      FUNKER_HEAP_LIMIT_MB: "256",
      FUNKER_CHILD_ENV: "PATH,HOME",
      FUNKER_QUEUE_TIMEOUT: "2000ms",
    });
    expect(resolveOptions({}, environment)).toMatchObject({ mode: "fresh", concurrency: 3, heapLimitMb: 256, childEnv: "PATH,HOME", queueTimeoutMs: 2_000 });
  });

  it("always carry the mode, which the Docker verbs may override", () => {
    const spec = specOf("");
    if (spec === undefined) throw new Error("no function");
    expect(spec.handlerSettings).toEqual({ mode: "single-shot" });
    expect(settingsEnvironment(spec.name, spec.handlerSettings, "reuse")).toEqual({ FUNKER_FUNCTION: "add", FUNKER_MODE: "reuse" });
  });
});
