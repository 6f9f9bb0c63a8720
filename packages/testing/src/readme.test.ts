import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// The README's imports, as a user writes them.
import { call } from "@funker/client";
import { handler } from "@funker/handler";
import { conformanceFunction, fakeFunctions, runCallerConformance, runHandlerConformance, startFunction } from "@funker/testing";
import type { CallerUnderTest, ConformanceReport } from "@funker/testing";
import { call2017, start2017Function } from "@funker/test-utils";
import { callerChecks } from "./conformance/caller-checks.js";
import { handlerChecks } from "./conformance/handler-checks.js";

// Each test body below is a code block of README.md, verbatim between the
// markers; the last test checks that the README still says the same.

describe("README examples", () => {
  it("1. apps: fake functions", async () => {
    // readme:apps
    using fake = fakeFunctions({ add: ({ x, y }: { x: number; y: number }) => x + y });
    fake.fail("add", "handler_error", { message: "overflow" }); // the first call fails

    await expect(call("add", { x: 1, y: 2 })).rejects.toMatchObject({ code: "handler_error" });
    expect(await call("add", { x: 1, y: 2 })).toBe(3);
    expect(fake.callsTo("add")).toHaveLength(2);
    // readme:end
  });

  it("2. function authors: the real handler on an ephemeral port", async () => {
    // readme:functions
    const add = ({ x, y }: { x: number; y: number }) => x + y;

    await using running = await startFunction(add, { name: "add" });
    expect(await running.call({ x: 1, y: 2 })).toBe(3);
    expect(running.logs).toHaveLength(1); // one log line per call
    // readme:end
  });

  it("3. implementations: the conformance suite", async () => {
    // readme:conformance
    const report = await runHandlerConformance({
      async start(mode) {
        const server = handler(conformanceFunction, { name: "conformance", mode, port: 0, exit: false, log: false });
        const { port } = await server.ready;
        return { host: "127.0.0.1", port, stop: () => server.close() };
      },
    });
    expect(report.failures).toEqual([]);
    // readme:end
  });

  it("the README has a row for every conformance check", () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    for (const { id } of [...handlerChecks, ...callerChecks]) expect(readme).toContain(`| \`${id}\` |`);
  });

  it("the README quotes failures as the kit reports them for the 2017 library and caller", async () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    const quoted = (report: ConformanceReport) => `> ${report.failures[0]?.failure}\n`;
    const handler2017 = await runHandlerConformance({
      only: /^legacy\.bad-json$/,
      async start() {
        const fn = await start2017Function("add");
        return { host: "127.0.0.1", port: fn.port, stop: async () => await fn[Symbol.asyncDispose]() };
      },
    });
    expect(readme).toContain(quoted(handler2017));
    const python2017: CallerUnderTest = {
      protocol: "legacy",
      async call(host, port, args) {
        const { stdout } = await call2017(host, port, JSON.stringify(args), "python");
        return { ok: true, value: JSON.parse(stdout) as unknown };
      },
    };
    expect(readme).toContain(quoted(await runCallerConformance({ caller: python2017, only: /^caller\.legacy-closed-without-reply$/ })));
  });

  it("the README shows exactly these examples", () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
    const source = readFileSync(fileURLToPath(import.meta.url), "utf8");
    for (const name of ["apps", "functions", "conformance"]) {
      const block = new RegExp(`// readme:${name}\\n([\\s\\S]*?)\\n\\s*// readme:end`).exec(source)?.[1];
      expect(block, name).toBeDefined();
      const dedented = (block as string)
        .split("\n")
        .map((line) => line.replace(/^ {4}/, ""))
        .join("\n");
      expect(readme).toContain(dedented);
    }
  });
});
