import { describe, expect, it } from "vitest";
import { callLogLine, ExitCode, expectedValue, isCallLine, isDurationTooLong, LONGEST_TIMER_MS, parseDuration, parseLogLine, SETTINGS } from "@funker/handler/contract";
import * as handlerPackage from "@funker/handler";
import { logCall, logProcess } from "./log.js";

describe("the duration grammar", () => {
  it.each([
    [250, 250],
    ["250", 250],
    [" 30s ", 30_000],
    ["500ms", 500],
    ["30s", 30_000],
    ["1.5s", 1_500],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h2m3s4ms", 3_723_004],
    ["0.6", 1],
    [LONGEST_TIMER_MS, LONGEST_TIMER_MS],
    [`${LONGEST_TIMER_MS}ms`, LONGEST_TIMER_MS],
  ])("reads %o as %d ms", (text, milliseconds) => {
    expect(parseDuration(text)).toBe(milliseconds);
  });

  it.each([
    ["zero", 0],
    ["zero with a unit", "0s"],
    ["less than half a millisecond", 0.4],
    ["a negative number", -1],
    ["a negative duration", "-1s"],
    ["a space inside", "30 s"],
    ["a space between parts", "1m 30s"],
    ["a word", "soon"],
    ["an unknown unit", "30 days"],
    ["a unit alone", "s"],
    ["an upper-case unit", "30S"],
    ["more than Node's longest timer", LONGEST_TIMER_MS + 1],
    ["more than Node's longest timer, with units", "1000h"],
    ["infinity", Number.POSITIVE_INFINITY],
    ["not a number", Number.NaN],
    ["the empty string", ""],
    ["something else", { ms: 5 }],
  ])("refuses %s", (_what, value) => {
    expect(parseDuration(value)).toBeUndefined();
  });

  it("tells a duration that is too long from one that is not a duration", () => {
    expect([isDurationTooLong("1000h"), isDurationTooLong(LONGEST_TIMER_MS + 1), isDurationTooLong("1h"), isDurationTooLong("soon"), isDurationTooLong(0)]).toEqual([
      true,
      true,
      false,
      false,
      false,
    ]);
  });

  it("is the one the package's main entry exports", () => {
    expect(handlerPackage.parseDuration).toBe(parseDuration);
    expect(handlerPackage.ExitCode).toBe(ExitCode);
  });
});

describe("the settings table", () => {
  it("names a distinct FUNKER_ variable for every setting", () => {
    const variables = Object.values(SETTINGS).map((setting) => setting.variable);
    expect(new Set(variables).size).toBe(variables.length);
    for (const variable of variables) expect(variable).toMatch(/^FUNKER_[A-Z_]+$/);
  });

  it("keeps every default inside its own range", () => {
    for (const [name, setting] of Object.entries(SETTINGS)) {
      if (setting.kind === "integer" && Number.isFinite(setting.default)) {
        expect(setting.default, name).toBeGreaterThanOrEqual(setting.min);
        expect(setting.default, name).toBeLessThanOrEqual(setting.max);
      }
      if (setting.kind === "duration" && setting.default !== undefined) expect(parseDuration(setting.default), name).toBe(setting.default);
      if (setting.kind === "choice") expect(setting.choices, name).toContain(setting.default);
    }
  });

  it("words what each kind expects", () => {
    expect(expectedValue(SETTINGS.concurrency)).toBe("a whole number from 1 to 10000");
    expect(expectedValue(SETTINGS.maxCalls)).toBe("a whole number, 1 or more");
    expect(expectedValue(SETTINGS.mode)).toBe('"single-shot" or "reuse" or "fresh"');
    expect(expectedValue(SETTINGS.name)).toBe("a function name of 1 to 63 characters");
  });
});

describe("the call log line", () => {
  it("is written by the handler in the shape its parser reads back", () => {
    const written: Record<string, unknown>[] = [];
    const sink = (line: Record<string, unknown>): void => void written.push(line);
    logCall({ id: "c1", functionName: "add", protocol: "framed", durationMs: 3, error: undefined, served: true }, sink);
    logCall({ id: "", functionName: undefined, protocol: undefined, durationMs: 0, error: { code: "protocol_error", message: "bad frame" }, served: false }, sink);
    const read = written.map((line) => parseLogLine(JSON.stringify(line)));
    expect(read).toEqual([
      { level: "info", msg: "call", id: "c1", function: "add", protocol: "framed", durationMs: 3, outcome: "ok" },
      { level: "error", msg: "call", id: "", durationMs: 0, outcome: "error", code: "protocol_error" },
    ]);
    expect(read.every((line) => line !== undefined && isCallLine(line))).toBe(true);
  });

  it("carries the thrown error's name, message and stack only when the error sent to the caller has a stack", () => {
    const written: Record<string, unknown>[] = [];
    const sink = (line: Record<string, unknown>): void => void written.push(line);
    const stack = "TypeError: boom\n    at thrower (/app/thrower.ts:3:46)";
    logCall({ id: "c1", functionName: "f", protocol: "framed", durationMs: 1, error: { code: "handler_error", name: "TypeError", message: "boom", stack }, served: true }, sink);
    logCall({ id: "c2", functionName: "f", protocol: "framed", durationMs: 1, error: { code: "handler_error", name: "TypeError", message: "secret-ish" }, served: true }, sink);
    const read = written.map((line) => parseLogLine(JSON.stringify(line)));
    expect(read[0]).toMatchObject({ outcome: "error", code: "handler_error", name: "TypeError", message: "boom", stack });
    expect(read[1]).toEqual({ level: "error", msg: "call", id: "c2", function: "f", protocol: "framed", durationMs: 1, outcome: "error", code: "handler_error" });
  });

  it("reads the process's own lines apart from calls", () => {
    const written: Record<string, unknown>[] = [];
    logProcess("fatal", "cannot listen on 127.0.0.1:9999", new Error("EADDRINUSE"), (line) => void written.push(line));
    const line = parseLogLine(JSON.stringify(written[0]));
    expect(line).toMatchObject({ level: "fatal", msg: "cannot listen on 127.0.0.1:9999", name: "Error", message: "EADDRINUSE" });
    expect(line !== undefined && isCallLine(line)).toBe(false);
  });

  it.each([
    ["plain text", "listening"],
    ["JSON that is not an object", "[1,2]"],
    ["broken JSON", '{"msg":"call"'],
    ["a call line without its duration", '{"level":"info","msg":"call","id":"c1","protocol":"framed","outcome":"ok"}'],
    ["a call line with an unknown outcome", '{"level":"info","msg":"call","id":"c1","protocol":"framed","durationMs":1,"outcome":"maybe"}'],
    ["an info line that is not a call", '{"level":"info","msg":"hello"}'],
  ])("ignores %s", (_what, text) => {
    expect(parseLogLine(text)).toBeUndefined();
  });

  it("builds the same line the handler writes", () => {
    expect(callLogLine({ id: "c2", functionName: "add", protocol: "legacy", durationMs: 7, errorCode: "timeout" })).toEqual({
      level: "error",
      msg: "call",
      id: "c2",
      function: "add",
      protocol: "legacy",
      durationMs: 7,
      outcome: "error",
      code: "timeout",
    });
  });
});

describe("exit codes", () => {
  it("keep the values supervisors act on", () => {
    expect(ExitCode).toEqual({ done: 0, startupFailed: 1, uncaughtFault: 70, recycled: 75 });
  });
});

describe("the README's contract example", () => {
  it("prints the concurrency row and reads a call line", () => {
    expect(SETTINGS.concurrency).toMatchObject({ variable: "FUNKER_CONCURRENCY", kind: "integer", min: 1, max: 10_000, default: 1 });
    const line = parseLogLine('{"level":"info","msg":"call","id":"c1","protocol":"framed","durationMs":3,"outcome":"ok"}');
    expect(line !== undefined && isCallLine(line) ? `call ${line.id} ${line.outcome}` : "not a call").toBe("call c1 ok");
  });
});
