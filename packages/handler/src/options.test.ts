import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "@funker/protocol";
import { HandlerOptionsError, parseDuration } from "@funker/handler";
import { resolveOptions } from "@funker/handler/internal";

describe("options", () => {
  it("defaults to the 2017 behaviour: port 9999 on every interface, single-shot", () => {
    const options = resolveOptions({}, {});
    expect(options).toMatchObject({
      port: 9999,
      host: "0.0.0.0",
      mode: "single-shot",
      concurrency: 1,
      maxCalls: Number.POSITIVE_INFINITY,
      timeoutMs: 60_000,
      readTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      gracePeriodMs: 60_000,
      drainTimeoutMs: 60_000,
      maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES,
      exposeStacks: false,
      exit: true,
      name: undefined,
    });
    expect(options.log).toBeTypeOf("function");
  });

  it("reads the environment", () => {
    const options = resolveOptions(
      {},
      {
        FUNKER_PORT: "8080",
        FUNKER_HOST: "127.0.0.1",
        FUNKER_MODE: "reuse",
        FUNKER_MAX_CALLS: "100",
        FUNKER_CONCURRENCY: "4",
        FUNKER_TIMEOUT: "30s",
        FUNKER_READ_TIMEOUT: "500ms",
        FUNKER_IDLE_TIMEOUT: "2m",
        FUNKER_GRACE: "5s",
        FUNKER_DRAIN_TIMEOUT: "3s",
        FUNKER_MAX_PAYLOAD: "1024",
        FUNKER_EXPOSE_STACKS: "false",
        FUNKER_LOG: "off",
        FUNKER_EXIT: "0",
        FUNKER_FUNCTION: "add",
      },
    );
    expect(options).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      mode: "reuse",
      maxCalls: 100,
      concurrency: 4,
      timeoutMs: 30_000,
      readTimeoutMs: 500,
      idleTimeoutMs: 120_000,
      gracePeriodMs: 5_000,
      drainTimeoutMs: 3_000,
      maxPayloadBytes: 1024,
      exposeStacks: false,
      log: undefined,
      exit: false,
      name: "add",
    });
  });

  it("lets code win over the environment", () => {
    const options = resolveOptions({ port: 0, mode: "single-shot", timeout: 1_000 }, { FUNKER_PORT: "8080", FUNKER_MODE: "reuse", FUNKER_TIMEOUT: "9s" });
    expect(options).toMatchObject({ port: 0, mode: "single-shot", timeoutMs: 1_000, gracePeriodMs: 1_000, drainTimeoutMs: 1_000 });
  });

  // Regression: stacks were sent unless NODE_ENV=production, so `node dist/handler.js` showed every caller absolute paths.
  it("hides stacks from callers unless told otherwise, whatever NODE_ENV says", () => {
    expect(resolveOptions({}, {}).exposeStacks).toBe(false);
    expect(resolveOptions({}, { NODE_ENV: "development" }).exposeStacks).toBe(false);
    expect(resolveOptions({}, { FUNKER_EXPOSE_STACKS: "1" }).exposeStacks).toBe(true);
    expect(resolveOptions({}, { NODE_ENV: "production", FUNKER_EXPOSE_STACKS: "on" }).exposeStacks).toBe(true);
  });

  it.each([
    [{ FUNKER_PORT: "http" }, "FUNKER_PORT"],
    [{ FUNKER_PORT: "70000" }, "FUNKER_PORT"],
    [{ FUNKER_MODE: "sometimes" }, "FUNKER_MODE"],
    [{ FUNKER_MAX_CALLS: "0" }, "FUNKER_MAX_CALLS"],
    [{ FUNKER_CONCURRENCY: "-1" }, "FUNKER_CONCURRENCY"],
    [{ FUNKER_TIMEOUT: "soon" }, "FUNKER_TIMEOUT"],
    [{ FUNKER_READ_TIMEOUT: "0" }, "FUNKER_READ_TIMEOUT"],
    [{ FUNKER_MAX_PAYLOAD: "1e9" }, "FUNKER_MAX_PAYLOAD"],
    [{ FUNKER_LOG: "loud" }, "FUNKER_LOG"],
    [{ FUNKER_FUNCTION: "x".repeat(64) }, "FUNKER_FUNCTION"],
  ])("refuses %o naming the variable", (environment, variable) => {
    expect(() => resolveOptions({}, environment)).toThrow(HandlerOptionsError);
    expect(() => resolveOptions({}, environment)).toThrow(variable);
  });

  it("names the option when the bad value came from code", () => {
    expect(() => resolveOptions({ concurrency: 1.5 }, {})).toThrow('option "concurrency"');
  });

  it("reads durations as milliseconds or with a unit", () => {
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration("250")).toBe(250);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1.5s")).toBe(1_500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1h")).toBe(3_600_000);
    expect(parseDuration("-1s")).toBeUndefined();
    expect(parseDuration("30 days")).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it("reads durations from the environment in the contract's grammar: combined units, no space inside", () => {
    expect(resolveOptions({}, { FUNKER_TIMEOUT: "1m30s", FUNKER_GRACE: " 2s " })).toMatchObject({ timeoutMs: 90_000, gracePeriodMs: 2_000 });
    expect(() => resolveOptions({}, { FUNKER_TIMEOUT: "30 s" })).toThrow("FUNKER_TIMEOUT must be a positive duration");
    expect(() => resolveOptions({}, { FUNKER_IDLE_TIMEOUT: "0s" })).toThrow("FUNKER_IDLE_TIMEOUT");
  });

  it("accepts a function as the log sink", () => {
    const lines: unknown[] = [];
    const options = resolveOptions({ log: (line) => lines.push(line) }, { FUNKER_LOG: "off" });
    options.log?.({ msg: "call" });
    expect(lines).toEqual([{ msg: "call" }]);
  });
});
