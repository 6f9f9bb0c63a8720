import { afterEach, describe, expect, it } from "vitest";
import { FunkerError } from "@funker/client";
import { fakeFunctions } from "@funker/testing";
import type { FakeFunctions } from "@funker/testing";
import { InvoiceUnavailable, invoiceTotal } from "./invoice.js";

type Functions = { add: (args: { x: number; y: number }) => number };
const lines = [
  { description: "coffee", cents: 350 },
  { description: "croissant", cents: 275 },
];

let fake: FakeFunctions<Functions> | undefined;
afterEach(() => fake?.restore());

describe("invoiceTotal (with the add function faked)", () => {
  it("adds the lines through the add function", async () => {
    fake = fakeFunctions<Functions>({ add: ({ x, y }) => x + y });
    expect(await invoiceTotal(lines)).toBe(625);
    expect(fake.callsTo("add").map((recorded) => recorded.args)).toEqual([
      { x: 0, y: 350 },
      { x: 350, y: 275 },
    ]);
    expect(fake.calls.every((recorded) => recorded.idempotent)).toBe(true);
  });

  it("survives a replica that crashes mid-call, because its calls are idempotent", async () => {
    fake = fakeFunctions<Functions>({ add: ({ x, y }) => x + y }).crash("add");
    expect(await invoiceTotal(lines)).toBe(625);
    expect(fake.callsTo("add")[0]?.deliveries).toBe(2);
  });

  it("tells the user the total is unavailable when the function fails, keeping the cause", async () => {
    fake = fakeFunctions<Functions>({ add: ({ x, y }) => x + y }).fail("add", "handler_error", { message: "overflow" });
    const error = await invoiceTotal(lines).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InvoiceUnavailable);
    expect((error as Error).message).toContain("handler_error");
    expect((error as Error).cause).toBeInstanceOf(FunkerError);
  });

  it("gives up at its timeout when the function is too slow", async () => {
    fake = fakeFunctions<Functions>({ add: ({ x, y }) => x + y }).slow("add", 60_000);
    const error = await invoiceTotal(lines, { timeout: 100 }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(InvoiceUnavailable);
    expect(((error as Error).cause as FunkerError).code).toBe("deadline_exceeded");
  });
});
