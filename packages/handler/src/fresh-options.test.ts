import { describe, expect, it } from "vitest";
import { handler, HandlerOptionsError } from "@funker/handler";
import { resolveOptions } from "@funker/handler/internal";
import { SETTINGS } from "@funker/handler/contract";
import { parseChildEnv, processEnvironment, processExecArgv } from "./fresh-process.js";

describe("fresh mode's settings", () => {
  it("keeps two processes by default, and V8's heap limit, the whole environment and a one-second queue", () => {
    expect(resolveOptions({ mode: "fresh" }, {})).toMatchObject({
      mode: "fresh",
      concurrency: 2,
      heapLimitMb: Number.POSITIVE_INFINITY,
      childEnv: undefined,
      queueTimeoutMs: 1_000,
    });
    // The other modes keep their default of one call at a time.
    expect(resolveOptions({}, {}).concurrency).toBe(1);
    expect(SETTINGS.concurrency.freshDefault).toBeGreaterThanOrEqual(SETTINGS.concurrency.min);
  });

  it("reads its variables", () => {
    expect(
      resolveOptions({}, { FUNKER_MODE: "fresh", FUNKER_CONCURRENCY: "4", FUNKER_HEAP_LIMIT_MB: "128", FUNKER_CHILD_ENV: "PATH,HOME", FUNKER_QUEUE_TIMEOUT: "250ms" }),
    ).toMatchObject({ mode: "fresh", concurrency: 4, heapLimitMb: 128, childEnv: "PATH,HOME", queueTimeoutMs: 250 });
  });

  it.each([
    [{ FUNKER_HEAP_LIMIT_MB: "8" }, "FUNKER_HEAP_LIMIT_MB"],
    [{ FUNKER_HEAP_LIMIT_MB: "lots" }, "FUNKER_HEAP_LIMIT_MB"],
    [{ FUNKER_QUEUE_TIMEOUT: "0" }, "FUNKER_QUEUE_TIMEOUT"],
  ])("refuses %o naming the variable", (environment, variable) => {
    expect(() => resolveOptions({}, environment)).toThrow(HandlerOptionsError);
    expect(() => resolveOptions({}, environment)).toThrow(variable);
  });

  it("refuses to run fresh in a process that is not the function's own", () => {
    expect(() => handler(() => 1, { mode: "fresh", exit: false, port: 0 })).toThrow(HandlerOptionsError);
    expect(() => handler(() => 1, { mode: "fresh", exit: false, port: 0 })).toThrow('option "exit" must be true');
  });
});

describe("a fresh process's environment", () => {
  const address = { host: "127.0.0.1", port: 9999 };
  const replica = { PATH: "/usr/bin", HOME: "/home/node", DB_PASSWORD: "secret", NODE_ENV: "production", NODE_OPTIONS: "--enable-source-maps", FUNKER_TIMEOUT: "5s", FUNKER_READY_FD: "3" };

  it("is the replica's whole environment by default, with the supervisor's marker and without its readiness descriptor", () => {
    const environment = processEnvironment(replica, undefined, address);
    expect(environment).toMatchObject({ PATH: "/usr/bin", DB_PASSWORD: "secret", FUNKER_TIMEOUT: "5s", FUNKER_FRESH_CHILD: '{"host":"127.0.0.1","port":9999}' });
    expect(environment).not.toHaveProperty("FUNKER_READY_FD");
  });

  it("is what childEnv lists, and Funker's own, NODE_ENV and NODE_OPTIONS", () => {
    const names = parseChildEnv(" PATH, HOME ,");
    if ("problem" in names) throw new Error(names.problem);
    expect(Object.keys(processEnvironment(replica, names.names, address)).sort()).toEqual(["FUNKER_FRESH_CHILD", "FUNKER_TIMEOUT", "HOME", "NODE_ENV", "NODE_OPTIONS", "PATH"]);
  });

  it("refuses a list with something that is not a variable name", () => {
    expect(parseChildEnv("PATH,DB-URL")).toEqual({ problem: '"DB-URL" is not a variable name' });
    expect(parseChildEnv(undefined)).toEqual({ names: undefined });
  });
});

describe("a fresh process's Node flags", () => {
  it("are the supervisor's, with its inspector moved to a port of the process's own on the same host", () => {
    expect(processExecArgv(["--enable-source-maps", "--inspect=127.0.0.1:9229", "--import", "x.mjs"])).toEqual(["--enable-source-maps", "--inspect=127.0.0.1:0", "--import", "x.mjs"]);
    expect(processExecArgv(["--inspect"])).toEqual(["--inspect=127.0.0.1:0"]);
    expect(processExecArgv(["--inspect=9230"])).toEqual(["--inspect=127.0.0.1:0"]);
    expect(processExecArgv(["--inspect-brk=0.0.0.0:9229"])).toEqual(["--inspect-brk=0.0.0.0:0"]);
    expect(processExecArgv(["--inspect-wait=[::1]:9229"])).toEqual(["--inspect-wait=[::1]:0"]);
    expect(processExecArgv(["--inspect", "--inspect-port=9300"])).toEqual(["--inspect=127.0.0.1:0"]);
    expect(processExecArgv(["--max-old-space-size=64"])).toEqual(["--max-old-space-size=64"]);
  });
});
