import { expect, test } from "vitest";
import { handler } from "@funker/handler";
import { FunkerError, call, createClient, setDefaultClient } from "@funker/client";
import { useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

// The README's examples, run against real handlers. Keep the two in step.
test("README: calling a function, and a typed client", async () => {
  const options = { port: 0, host: "127.0.0.1", exit: false, log: false, mode: "reuse" } as const;
  const add = handler((args: { x: number; y: number }) => args.x + args.y, options);
  const greet = handler((args?: { name?: string }) => `hello ${args?.name ?? "you"}`, options);
  const charge = handler((): number => {
    throw new Error("card declined");
  }, options);
  for (const server of [add, greet, charge]) track({ close: () => server.close() });
  const endpoints = Object.fromEntries(
    await Promise.all(
      Object.entries({ add, greet, charge }).map(async ([name, server]) => {
        const { host, port } = await server.ready;
        return [name, `${host}:${port}`] as const;
      }),
    ),
  );
  const restore = setDefaultClient(track(createClient({ endpoints })));
  try {
    const sum = await call<number>("add", { x: 1, y: 2 });
    expect(sum).toBe(3);
    let mayHaveRun: boolean | undefined;
    try {
      await call("charge", { order: 42, cents: 1999 }, { timeout: 5_000 });
    } catch (error) {
      if (error instanceof FunkerError) mayHaveRun = error.mayHaveRun;
    }
    expect(mayHaveRun).toBe(true);

    type Functions = {
      add: (args: { x: number; y: number }) => number;
      greet: (args?: { name?: string }) => Promise<string>;
    };
    await using client = createClient<Functions>({ timeout: 10_000, endpoints });
    expect(await client.call("add", { x: 1, y: 2 })).toBe(3);
    expect(await client.call("greet")).toBe("hello you");
  } finally {
    restore();
  }
});
