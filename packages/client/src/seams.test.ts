import { afterEach, describe, expect, test } from "vitest";
import { FunkerError, decodeJson, encodeResult } from "@funker/protocol";
import { call, createClient, setDefaultClient } from "@funker/client";
import { installNetwork } from "@funker/client/internal";
import type { Address, AttemptOutcome, AttemptRequest, Network } from "@funker/client/internal";
import { startFramedServer } from "./test-support/servers.js";
import { closedPort, rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();
const restorers: Array<() => void> = [];
afterEach(() => {
  for (const restore of restorers.splice(0).reverse()) restore();
});

/** A network of one fake replica per name, answering every attempt with `answer`. */
function oneReplicaNetwork(answer: (address: Address, request: AttemptRequest) => Promise<AttemptOutcome>): Network & { requests: AttemptRequest[] } {
  const requests: AttemptRequest[] = [];
  return {
    requests,
    names: { lookUp: async (name) => ({ kind: "found", hosts: [`fake-${name}`] }) },
    transport: {
      attempt: (address, request) => {
        requests.push(request);
        return answer(address, request);
      },
      hasIdle: () => false,
      close: () => undefined,
    },
  };
}

/** The arguments of an attempt, as a handler would read them. */
function argumentsOf(request: AttemptRequest): unknown {
  return decodeJson(request.body);
}

describe("the network seam (@funker/client/internal)", () => {
  test("routes every call of every client to the installed network, endpoints included, with the call checked and encoded as for the wire", async () => {
    const network = oneReplicaNetwork(async (address, request) => ({ ok: true, value: { at: address.host, echoed: argumentsOf(request) } }));
    restorers.push(installNetwork(network));
    const nowhere = await closedPort();
    const client = track(createClient({ endpoints: { add: `127.0.0.1:${nowhere}` }, metadata: { tenant: "t" } }));
    const before = Date.now();
    await expect(client.call("add", { x: 1 }, { idempotent: true, timeout: 5_000 })).resolves.toEqual({ at: "fake-add", echoed: { x: 1 } });
    await expect(call("other")).resolves.toEqual({ at: "fake-other", echoed: {} });
    expect(network.requests.map((request) => request.name)).toEqual(["add", "other"]);
    const first = network.requests[0] as AttemptRequest;
    expect(first.deadline).toBeGreaterThanOrEqual(before + 5_000);
    expect(first.idempotent).toBe(true);
    expect(first.protocol).toBe("auto");
    expect(first.header).toMatchObject({ id: first.id, function: "add", metadata: { tenant: "t" } });
  });

  test("the client's own retry loop runs over it: a refused attempt goes elsewhere, a crash is retried only when idempotent", async () => {
    let attempts = 0;
    const network = oneReplicaNetwork(async () => {
      attempts += 1;
      if (attempts === 1) return { ok: false, addressDead: false, error: new FunkerError("unavailable", "busy", { mayHaveRun: false }) };
      if (attempts === 2) return { ok: false, addressDead: false, error: new FunkerError("handler_crashed", "died", { mayHaveRun: true }) };
      return { ok: true, value: "third time" };
    });
    restorers.push(installNetwork(network));
    await expect(call("flaky", {}, { idempotent: true, retry: { initialBackoffMs: 1 } })).resolves.toBe("third time");
    attempts = 1;
    const error = await rejectionOf(call("flaky", {}));
    expect(error).toMatchObject({ code: "handler_crashed", mayHaveRun: true });
  });

  test("a final not-found answer ends the call at once, without the not-found grace", async () => {
    restorers.push(installNetwork({ names: { lookUp: async () => ({ kind: "not_found", final: true }) }, transport: oneReplicaNetwork(async () => ({ ok: true, value: 1 })).transport }));
    const started = Date.now();
    expect(await rejectionOf(call("nowhere", {}, { timeout: 10_000 }))).toMatchObject({ code: "not_found", mayHaveRun: false });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  test("arguments JSON cannot carry are refused before the network sees them", async () => {
    const network = oneReplicaNetwork(async () => ({ ok: true, value: null }));
    restorers.push(installNetwork(network));
    expect((await rejectionOf(call("add", { big: 1n }))).code).toBe("bad_arguments");
    expect(network.requests).toHaveLength(0);
  });

  test("the restore function puts the network back", async () => {
    const server = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, "network")) }));
    const restore = installNetwork(oneReplicaNetwork(async () => ({ ok: true, value: "fake" })));
    const client = track(createClient({ endpoints: { add: server.endpoint } }));
    await expect(client.call("add")).resolves.toBe("fake");
    restore();
    await expect(client.call("add")).resolves.toBe("network");
  });

  test("is kept on a global symbol, shared by every copy of the package", () => {
    const network = oneReplicaNetwork(async () => ({ ok: true, value: "x" }));
    restorers.push(installNetwork(network));
    expect((globalThis as Record<symbol, unknown>)[Symbol.for("funker.client.network")]).toBe(network);
  });
});

describe("setDefaultClient", () => {
  test("replaces the client behind call(), and the restore function puts it back", async () => {
    const server = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, decodeJson(c.body))) }));
    const configured = track(createClient({ endpoints: { echo: server.endpoint } }));
    const restore = setDefaultClient(configured);
    await expect(call("echo", { hello: "world" })).resolves.toEqual({ hello: "world" });
    restore();
    const fake = { call: async (name: string) => `fake ${name}` };
    restorers.push(setDefaultClient(fake));
    await expect(call("echo")).resolves.toBe("fake echo");
  });
});

describe("trace context from OpenTelemetry, without depending on it", () => {
  const OTEL_KEY = Symbol.for("opentelemetry.js.api.1");
  const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
  const globals = globalThis as Record<symbol, unknown>;
  afterEach(() => {
    delete globals[OTEL_KEY];
  });

  /** Shaped like @opentelemetry/api's global registry with a context manager and an active span. */
  function registerFakeOpenTelemetry(spanContext: unknown): void {
    const activeContext = { getValue: (key: symbol) => (key === SPAN_KEY ? { spanContext: () => spanContext } : undefined) };
    globals[OTEL_KEY] = { version: "1.9.0", context: { active: () => activeContext }, trace: {}, propagation: {} };
  }

  async function headerOfCall() {
    const server = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, null)) }));
    const client = track(createClient({ endpoints: { traced: server.endpoint } }));
    await client.call("traced");
    return server.calls[0];
  }

  test("the active span becomes the call's traceparent and tracestate", async () => {
    registerFakeOpenTelemetry({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
      traceState: { serialize: () => "vendor=value" },
    });
    const frame = await headerOfCall();
    expect(frame?.traceparent).toBe("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    expect(frame?.tracestate).toBe("vendor=value");
  });

  test("an invalid span context or a broken registry means no traceparent, and the call still works", async () => {
    registerFakeOpenTelemetry({ traceId: "0".repeat(32), spanId: "00f067aa0ba902b7", traceFlags: 1 });
    expect((await headerOfCall())?.traceparent).toBeUndefined();
    globals[OTEL_KEY] = {
      context: {
        active: () => {
          throw new Error("broken");
        },
      },
    };
    expect((await headerOfCall())?.traceparent).toBeUndefined();
  });

  test("without OpenTelemetry, no traceparent is sent", async () => {
    expect((await headerOfCall())?.traceparent).toBeUndefined();
  });
});

describe("FUNKER_ENDPOINTS", () => {
  const saved = process.env["FUNKER_ENDPOINTS"];
  afterEach(() => {
    if (saved === undefined) delete process.env["FUNKER_ENDPOINTS"];
    else process.env["FUNKER_ENDPOINTS"] = saved;
  });

  test("names functions' addresses; * catches every other name; the option wins per name", async () => {
    const add = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, "add")) }));
    const other = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, "catch-all")) }));
    const option = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, "option")) }));
    process.env["FUNKER_ENDPOINTS"] = ` add = ${add.endpoint} ; *=${other.endpoint};; echo=${add.endpoint}`;
    const client = track(createClient({ endpoints: { echo: option.endpoint } }));
    await expect(client.call("add")).resolves.toBe("add");
    await expect(client.call("anything")).resolves.toBe("catch-all");
    await expect(client.call("echo")).resolves.toBe("option");
  });

  test("a host without a port takes the port option; IPv6 addresses go in brackets", async () => {
    const server = track(await startFramedServer({ onCall: (c, peer) => peer.send(encodeResult(c.id, "ok")) }));
    const client = track(createClient({ endpoints: "add=127.0.0.1", port: server.port }));
    await expect(client.call("add")).resolves.toBe("ok");
    expect(() => createClient({ endpoints: "add=[::1]:9999,127.0.0.1:7001" })).not.toThrow();
  });

  test("a malformed value is refused when the client is created", () => {
    for (const bad of ["add", "add=", "=127.0.0.1:1", "add=127.0.0.1:99999", "add=127.0.0.1:x", "add=[::1"]) {
      expect(() => createClient({ endpoints: bad }), bad).toThrow(TypeError);
    }
    process.env["FUNKER_ENDPOINTS"] = "add";
    expect(() => createClient()).toThrow(/FUNKER_ENDPOINTS|endpoints/);
  });
});
