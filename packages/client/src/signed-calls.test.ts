import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { handler } from "@funker/handler";
import type { HandlerOptions } from "@funker/handler";
import { createClient } from "@funker/client";
import { SUPPORTED_VERSIONS, encodeError } from "@funker/protocol";
import { start2017Function } from "@funker/test-utils";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();
const OLD_KEY = "the-key-in-use-for-a-while-000000";
const NEW_KEY = "the-key-that-replaces-it-1111111";
const folder = mkdtempSync(join(tmpdir(), "funker-signed-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A real reuse-mode handler that counts what it ran. */
async function serveAdd(options: Omit<HandlerOptions, "schema"> = {}): Promise<{ endpoint: string; ran: () => number }> {
  let runs = 0;
  const server = handler(
    (args: { x: number; y: number }) => {
      runs += 1;
      return args.x + args.y;
    },
    { port: 0, host: "127.0.0.1", exit: false, log: false, mode: "reuse", concurrency: 16, ...options },
  );
  track({ close: () => server.close() });
  const { host, port } = await server.ready;
  return { endpoint: `${host}:${port}`, ran: () => runs };
}

/** Runs `make` with these variables set, as a process started with them would. */
function withEnvironment<T>(variables: Record<string, string>, make: () => T): T {
  const saved = Object.fromEntries(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return make();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function keyFile(name: string, ...keys: string[]): string {
  const path = join(folder, name);
  writeFileSync(path, `${keys.join("\n")}\n`);
  return path;
}

/** Rewrites a key file with a modification time that surely differs from the last one. */
let stamp = Date.now();
function rewrite(path: string, ...keys: string[]): void {
  writeFileSync(path, `${keys.join("\n")}\n`);
  stamp += 10_000;
  utimesSync(path, new Date(), new Date(stamp));
}

describe("signed calls between a client and a handler with the same keys", () => {
  test("a client with the handler's key calls it", async () => {
    const { endpoint, ran } = await serveAdd({ secret: OLD_KEY });
    const client = track(createClient({ endpoints: { add: endpoint }, secret: OLD_KEY }));
    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    await expect(client.call("add", { x: 2, y: 2 })).resolves.toBe(4);
    expect(ran()).toBe(2);
  });

  test("a client without keys is told the function wants signed calls, and sends nothing", async () => {
    const { endpoint, ran } = await serveAdd({ secret: OLD_KEY });
    const client = track(createClient({ endpoints: { add: endpoint } }));
    const error = await rejectionOf(client.call("add", { x: 1, y: 2 }));
    expect(error).toMatchObject({ code: "unauthenticated", mayHaveRun: false });
    expect(error.message).toContain("accepts only signed calls, and this client has no secret");
    expect(ran()).toBe(0);
  });

  test("a client with another key gets unauthenticated, not run, and its key is in no message", async () => {
    const { endpoint, ran } = await serveAdd({ secret: OLD_KEY });
    const client = track(createClient({ endpoints: { add: endpoint }, secret: NEW_KEY }));
    const error = await rejectionOf(client.call("add", { x: 1, y: 2 }));
    expect(error).toMatchObject({ code: "unauthenticated", mayHaveRun: false });
    expect(JSON.stringify({ message: error.message, cause: String(error.cause) })).not.toContain(NEW_KEY);
    expect(ran()).toBe(0);
  });

  test("the client reads FUNKER_SECRET_FILE, and FUNKER_SECRET_FILES for one function", async () => {
    const shared = await serveAdd({ secret: OLD_KEY });
    const own = await serveAdd({ secret: NEW_KEY });
    const environment = { FUNKER_SECRET_FILE: keyFile("shared.key", OLD_KEY), FUNKER_SECRET_FILES: `payments=${keyFile("payments.key", NEW_KEY)}` };
    const client = track(withEnvironment(environment, () => createClient({ endpoints: { add: shared.endpoint, payments: own.endpoint } })));
    await expect(client.call("add", { x: 1, y: 2 })).resolves.toBe(3);
    await expect(client.call("payments", { x: 1, y: 2 })).resolves.toBe(3);
  });

  test("a client whose key file is missing fails at creation, naming the file", () => {
    const missing = join(folder, "absent.key");
    expect(() => createClient({ secretFile: missing })).toThrow(/absent\.key.*no such file/);
  });
});

describe("a client with keys never downgrades a call to a format without a signature", () => {
  test("a 2017 function is not called: protocol_error, not sent", async () => {
    await using legacy = await start2017Function("add");
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${legacy.port}` }, secret: OLD_KEY, helloTimeoutMs: 200 }));
    const error = await rejectionOf(client.call("add", { x: 1, y: 2 }, { timeout: 5_000 }));
    expect(error).toMatchObject({ code: "protocol_error", mayHaveRun: false });
    expect(error.message).toContain("a signed call is never sent in the 2017 format");
  });

  test("a replica that speaks only protocol version 1 is not called: protocol_error, not sent", async () => {
    // A version 1 handler refuses the version 2 preface with a version 1 ERROR listing what it speaks.
    let callsRead = 0;
    const server = createServer((socket) => {
      socket.once("data", () => {
        callsRead += 1;
        socket.end(
          encodeError(
            "",
            { code: "protocol_error", message: "unsupported protocol version 2", name: "FunkerError", data: { supportedVersions: [SUPPORTED_VERSIONS[0]] } },
            { version: 1, refused: true },
          ),
        );
      });
    });
    server.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const { port } = server.address() as AddressInfo;
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${port}` }, secret: OLD_KEY }));
    const error = await rejectionOf(client.call("add", { x: 1, y: 2 }, { timeout: 5_000 }));
    expect(error).toMatchObject({ code: "protocol_error", mayHaveRun: false });
    expect(error.message).toContain("speaks protocol version 1, which cannot carry a signature");
    // Only the version 2 preface was read; no version 1 call followed it.
    expect(callsRead).toBe(1);
  });
});

describe("rotating keys under load", () => {
  test("calls keep succeeding while a new key is added, made the signing key, and the old one removed", async () => {
    const handlerKeys = keyFile("rotation-handler.key", OLD_KEY);
    const clientKeys = keyFile("rotation-client.key", OLD_KEY);
    const replicas = [await serveAdd({ secretFile: handlerKeys }), await serveAdd({ secretFile: handlerKeys })];
    const client = track(createClient({ endpoints: { add: replicas.map((replica) => replica.endpoint) }, secretFile: clientKeys }));

    let running = true;
    let succeeded = 0;
    const failures: string[] = [];
    const callers = Array.from({ length: 8 }, async (_, caller) => {
      for (let index = 0; running; index += 1) {
        try {
          expect(await client.call("add", { x: caller, y: index })).toBe(caller + index);
          succeeded += 1;
        } catch (error) {
          failures.push(String(error));
        }
      }
    });
    // Each step waits out the key files' one-second re-read, so every side has the step before the next one.
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1_500));
    await settle();
    const beforeRotation = succeeded;
    rewrite(handlerKeys, OLD_KEY, NEW_KEY);
    rewrite(clientKeys, OLD_KEY, NEW_KEY);
    await settle();
    rewrite(handlerKeys, NEW_KEY, OLD_KEY);
    rewrite(clientKeys, NEW_KEY, OLD_KEY);
    await settle();
    rewrite(handlerKeys, NEW_KEY);
    rewrite(clientKeys, NEW_KEY);
    await settle();
    const afterRotation = succeeded;
    running = false;
    await Promise.all(callers);

    expect(failures).toEqual([]);
    expect(beforeRotation).toBeGreaterThan(0);
    expect(afterRotation).toBeGreaterThan(beforeRotation);
    // The old key is gone: a client that still signs with it is refused.
    const stale = track(createClient({ endpoints: { add: replicas.map((replica) => replica.endpoint) }, secret: OLD_KEY }));
    await expect(rejectionOf(stale.call("add", { x: 1, y: 2 }))).resolves.toMatchObject({ code: "unauthenticated" });
  });
});
