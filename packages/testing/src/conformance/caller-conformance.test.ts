import { connect } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { createClient, FunkerError } from "@funker/client";
import { PREFACE, decodeJson, encodeCall } from "@funker/protocol";
import { call2017 } from "@funker/test-utils";
import type { Legacy2017Caller } from "@funker/test-utils";
import { runCallerConformance } from "./caller-conformance.js";
import type { CallerUnderTest } from "./caller-conformance.js";
import type { ConformanceReport } from "./report.js";

function summary(report: ConformanceReport): string {
  return report.failures.map((failure) => `${failure.id}: ${failure.failure}`).join("\n");
}

/** Funker's own client as a caller under test. */
function ownClient(protocol: "framed" | "legacy" | "auto", declared: CallerUnderTest["protocol"] = protocol): CallerUnderTest {
  return {
    protocol: declared,
    async call(host, port, args, { timeoutMs }) {
      await using client = createClient({ endpoints: { conformance: [`${host}:${port}`] }, protocol, timeout: timeoutMs });
      try {
        return { ok: true, value: await client.call("conformance", args) };
      } catch (error) {
        return { ok: false, code: error instanceof FunkerError ? error.code : "not-a-funker-error" };
      }
    },
  };
}

/**
 * A 2017 caller (the project's fixture of the 2017 Node or Python caller),
 * run as a child process; `protocol` is what it is declared to speak.
 */
function caller2017(flavour: Legacy2017Caller, protocol: "framed" | "legacy" = "legacy"): CallerUnderTest {
  return {
    protocol,
    async call(host, port, args) {
      const outcome = await call2017(host, port, JSON.stringify(args), flavour);
      if (outcome.exitCode === 0) return { ok: true, value: decodeJson(new TextEncoder().encode(outcome.stdout)) };
      // A connection error prints "ERR <code>"; a crash, Node's report with the error's line.
      if (outcome.stderr.startsWith("ERR ")) return { ok: false, code: outcome.stderr.slice(4) };
      return { ok: false, code: `crashed: ${/^\w*Error: .*$/m.exec(outcome.stderr)?.[0] ?? outcome.stderr}` };
    },
  };
}

describe("caller conformance", () => {
  it("Funker's client passes every framed check", async () => {
    const report = await runCallerConformance({ caller: ownClient("framed") });
    expect(summary(report)).toBe("");
    expect(report.results.length).toBeGreaterThanOrEqual(7);
  });

  it("Funker's client, finding out per function (its default), passes every check and reaches a 2017 function unconfigured", async () => {
    const report = await runCallerConformance({ caller: ownClient("auto") });
    expect(summary(report)).toBe("");
    expect(report.results.map((result) => result.id)).toContain("caller.auto-reaches-2017-function");
    expect(report.results.length).toBe(new Set(report.results.map((result) => result.id)).size);
  });

  it("fails a framed-only caller declared to find out, on the 2017 function, saying why", async () => {
    const report = await runCallerConformance({ caller: ownClient("framed", "auto"), only: /auto-reaches-2017/ });
    expect(report.failures.map((failure) => failure.id)).toEqual(["caller.auto-reaches-2017-function"]);
    expect(summary(report)).toContain("a 2017 one, which runs nothing before the caller half-closes");
  });

  it("Funker's client passes every legacy check, the empty reply included", async () => {
    const report = await runCallerConformance({ caller: ownClient("legacy") });
    expect(summary(report)).toBe("");
    expect(report.results.map((result) => result.id)).toEqual([
      "caller.request",
      "caller.result-object",
      "caller.chunked-reply",
      "caller.legacy-error-object",
      "caller.legacy-closed-without-reply",
    ]);
  });

  // What each 2017 caller makes of an empty reply, and the cause the failure names.
  const emptyReply2017 = {
    python: {
      instead: "the caller returned null",
      cause: "the caller reads the empty reply as a value, as the 2017 Python library did (None)",
    },
    node: {
      instead: 'the caller reported the error "crashed: SyntaxError: Unexpected end of JSON input"',
      cause: "the caller fails on the empty reply without reading it, as the 2017 Node library did (its JSON.parse threw and the process died)",
    },
  } as const;

  it.each(["python", "node"] as const)("the 2017 %s caller passes the legacy checks but the empty reply's, which it does not read as an error", async (flavour) => {
    const report = await runCallerConformance({ caller: caller2017(flavour) });
    expect(report.results.filter((result) => result.passed).map((result) => result.id)).toEqual([
      "caller.request",
      "caller.result-object",
      "caller.chunked-reply",
      "caller.legacy-error-object",
    ]);
    const { instead, cause } = emptyReply2017[flavour];
    expect(summary(report)).toBe(
      `caller.legacy-closed-without-reply: expected the error handler_crashed; instead ${instead}. Likely cause: ${cause}; ` +
        "an empty reply is the 2017 format's way to fail (the function threw or its process died), and a caller MUST read it as the error handler_crashed, never as null (PROTOCOL.md 3.1).",
    );
  });

  it("fails a caller that ignores the reply's call id", async () => {
    const careless: CallerUnderTest = {
      protocol: "framed",
      async call(host, port, args, options) {
        const outcome = await ownClient("framed").call(host, port, args, options);
        // Pretend every reply is a result, whatever it was.
        return outcome.ok ? outcome : { ok: true, value: 42 };
      },
    };
    const report = await runCallerConformance({ caller: careless });
    expect(report.failures.map((failure) => failure.id)).toEqual(expect.arrayContaining(["caller.wrong-id", "caller.error-frame"]));
    expect(report.failures.find((failure) => failure.id === "caller.wrong-id")?.failure).toMatch(
      /^expected an error; instead the caller returned 42\. Likely cause: a frame about another call id \(here "someone-else"\) is a protocol_error/,
    );
  });

  it("shows what a caller declared framed sent when it speaks 2017's format", async () => {
    const report = await runCallerConformance({ caller: caller2017("node", "framed"), only: /^caller\.request$/ });
    expect(summary(report)).toBe(
      "caller.request: expected a framed request: the preface 00 46 55 4e 4b 45 52 01, then a CALL frame (PROTOCOL.md 5); " +
        'instead 13 bytes (7b 22 78 22 3a 31 2c 22 79 22 3a 32 7d, as text "{\\"x\\":1,\\"y\\":2}"), which do not decode (protocol_error: the stream does not start with the Funker preface). ' +
        'Likely cause: the caller speaks the 2017 format: test it with protocol: "legacy", or give it framed mode (PROTOCOL.md 5).',
    );
  });

  it("names a deadline sent in seconds", async () => {
    // A framed caller that gets the deadline's unit wrong, over a real socket.
    const inSeconds: CallerUnderTest = {
      protocol: "framed",
      async call(host, port, args) {
        const socket = connect(port, host);
        await once(socket, "connect");
        socket.write(Buffer.concat([PREFACE, encodeCall({ id: "c-1", function: "conformance", deadline: Math.floor(Date.now() / 1000) + 10 }, args)]));
        // Reads the HELLO and whatever follows, as a caller does.
        socket.resume();
        await once(socket, "close");
        return { ok: false, code: "connection_failed" };
      },
    };
    const report = await runCallerConformance({ caller: inSeconds, only: /^caller\.request$/ });
    expect(summary(report)).toMatch(
      /^caller\.request: expected a CALL whose deadline is in the future; instead the deadline \d+, \d+ ms in the past\. Likely cause: a deadline is an absolute time in milliseconds since the Unix epoch \(PROTOCOL\.md 5\.3, CALL\): is it a duration, or in seconds\?$/,
    );
  });

  it("names a caller that never connects", async () => {
    const absent: CallerUnderTest = { protocol: "legacy", call: async () => ({ ok: false, code: "connection_failed" }) };
    const report = await runCallerConformance({ caller: absent, only: /^caller\.request$/ });
    expect(summary(report)).toBe(
      "caller.request: expected a 2017 request: the arguments as one JSON text, then a half-close (PROTOCOL.md 3); instead no connection. Likely cause: the caller did not connect to the host and port it was given.",
    );
  });
});
