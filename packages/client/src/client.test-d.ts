import { describe, expectTypeOf, test } from "vitest";
import { call, createClient } from "@funker/client";
import type { Client, FunkerError } from "@funker/client";

type Functions = {
  add: (args: { x: number; y: number }) => number;
  greet: (args?: { name?: string }) => Promise<string>;
  now: () => { iso: string };
};

describe("typed client", () => {
  const client = createClient<Functions>();

  test("checks the name, the arguments and the result", () => {
    expectTypeOf(client.call("add", { x: 1, y: 2 })).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: no such function
    void client.call("subtract", { x: 1, y: 2 });
    // @ts-expect-error: y is missing
    void client.call("add", { x: 1 });
    // @ts-expect-error: x must be a number
    void client.call("add", { x: "1", y: 2 });
    // @ts-expect-error: add requires arguments
    void client.call("add");
  });

  test("awaits a function's promise and lets optional arguments be omitted", () => {
    expectTypeOf(client.call("greet")).toEqualTypeOf<Promise<string>>();
    expectTypeOf(client.call("greet", { name: "Ada" }, { timeout: 1000 })).toEqualTypeOf<Promise<string>>();
    expectTypeOf(client.call("now")).toEqualTypeOf<Promise<{ iso: string }>>();
    // @ts-expect-error: now takes no arguments
    void client.call("now", { extra: 1 });
  });

  test("takes call options as the last argument", () => {
    void client.call("add", { x: 1, y: 2 }, { idempotent: true, signal: AbortSignal.timeout(10) });
    // @ts-expect-error: not an option
    void client.call("add", { x: 1, y: 2 }, { retries: 3 });
  });
});

describe("untyped client and call", () => {
  test("accept any name and arguments, resolving to unknown unless told", () => {
    const client = createClient();
    expectTypeOf(client).toEqualTypeOf<Client>();
    expectTypeOf(client.call("anything", [1, 2])).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(client.call<number>("add", { x: 1, y: 2 })).toEqualTypeOf<Promise<number>>();
    expectTypeOf(call("add", { x: 1, y: 2 })).toEqualTypeOf<Promise<unknown>>();
    expectTypeOf(call<string>("echo")).toEqualTypeOf<Promise<string>>();
  });

  test("errors carry a code and whether the function may have run", () => {
    expectTypeOf<FunkerError["mayHaveRun"]>().toEqualTypeOf<boolean>();
    expectTypeOf<FunkerError["code"]>().toEqualTypeOf<
      | "not_found"
      | "unavailable"
      | "connection_failed"
      | "deadline_exceeded"
      | "cancelled"
      | "protocol_error"
      | "payload_too_large"
      | "bad_arguments"
      | "bad_result"
      | "unauthenticated"
      | "handler_error"
      | "handler_crashed"
      | "internal"
    >();
  });
});
