import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { createClient, FunkerError } from "@funker/client";
import { handler } from "@funker/handler";
import { decodeJson } from "@funker/protocol";
import { call2017 } from "@funker/test-utils";
import type { Legacy2017Caller } from "@funker/test-utils";
import type { CallerUnderTest, ConformanceReport, HandlerUnderTest } from "./index.js";
import { conformanceFunction, runCallerConformance, runHandlerConformance } from "./index.js";

/** Funker's own handler, started fresh for each check. */
async function startOwnHandler(mode: "single-shot" | "reuse"): Promise<HandlerUnderTest> {
  const server = handler(conformanceFunction, { name: "conformance", mode, port: 0, host: "127.0.0.1", exit: false, log: false });
  const { host, port } = await server.ready;
  return { host, port, stop: () => server.close() };
}

function summary(report: ConformanceReport): string {
  return report.failures.map((failure) => `${failure.id}: ${failure.failure}`).join("\n");
}

/**
 * A handler that behaves as the 2017 Node function did: it reads to the end,
 * parses, answers, and on any error closes with an empty reply.
 */
async function start2017StyleHandler(): Promise<HandlerUnderTest> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      try {
        const args = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { op: string; x: number; y: number };
        if (args.op !== "add") throw new Error("unsupported");
        socket.end(JSON.stringify(args.x + args.y));
      } catch {
        socket.end();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    host: "127.0.0.1",
    port,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe("handler conformance", () => {
  it("Funker's handler passes every check, in both modes", async () => {
    const report = await runHandlerConformance({ start: startOwnHandler });
    expect(summary(report)).toBe("");
    expect(report.passed).toBe(true);
    expect(report.results.length).toBeGreaterThanOrEqual(20);
    expect(report.results.map((result) => result.id)).toEqual(expect.arrayContaining(["single-shot.refuse-while-busy", "reuse.busy", "framed.cancel"]));
  });

  it("fails a handler that speaks only 2017's format and hides errors behind empty replies", async () => {
    // Short exchanges: a 2017 handler waits forever for a framed caller's half-close.
    const report = await runHandlerConformance({ start: start2017StyleHandler, modes: ["single-shot"], checkTimeoutMs: 300 });
    expect(report.passed).toBe(false);
    const failed = new Set(report.failures.map((failure) => failure.id));
    expect(failed).toContain("legacy.bad-json");
    expect(failed).toContain("legacy.handler-error");
    expect(failed).toContain("framed.result");
    // What the 2017 format does get right still passes.
    expect(report.results.find((result) => result.id === "legacy.result")?.passed).toBe(true);
  }, 60_000);
});

/** Funker's own client as a caller under test. */
function ownClient(protocol: "framed" | "legacy"): CallerUnderTest {
  return {
    protocol,
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

/** A 2017 caller (the project's fixture of the 2017 Node or Python caller), run as a child process. */
function caller2017(flavour: Legacy2017Caller): CallerUnderTest {
  return {
    protocol: "legacy",
    async call(host, port, args) {
      const outcome = await call2017(host, port, JSON.stringify(args), flavour);
      if (outcome.exitCode !== 0) return { ok: false, code: outcome.stderr.split("\n")[0] ?? "" };
      return { ok: true, value: decodeJson(new TextEncoder().encode(outcome.stdout)) };
    },
  };
}

describe("caller conformance", () => {
  it("Funker's client passes every framed check", async () => {
    const report = await runCallerConformance({ caller: ownClient("framed") });
    expect(summary(report)).toBe("");
    expect(report.results.length).toBeGreaterThanOrEqual(7);
  });

  it("Funker's client passes every legacy check", async () => {
    const report = await runCallerConformance({ caller: ownClient("legacy") });
    expect(summary(report)).toBe("");
    expect(report.results.length).toBeGreaterThanOrEqual(4);
  });

  it.each(["node", "python"] as const)("the 2017 %s caller passes the legacy checks that apply to it", async (flavour) => {
    const report = await runCallerConformance({ caller: caller2017(flavour) });
    expect(summary(report)).toBe("");
    expect(report.results.length).toBeGreaterThanOrEqual(4);
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
  });
});
