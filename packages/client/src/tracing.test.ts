import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { handler } from "@funker/handler";
import { createClient } from "@funker/client";
import type { Client } from "@funker/client";
import { rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();
const exporter = new InMemorySpanExporter();

beforeAll(() => {
  // What a program's OpenTelemetry set-up does: a tracer provider and an AsyncLocalStorage context manager, registered globally.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
});
afterAll(() => {
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

/** A real handler in this process, on a free loopback port, whose function may call other functions with `client`. */
async function serve(fn: (args: unknown) => unknown, mode: "reuse" | "single-shot" = "reuse"): Promise<string> {
  const server = handler(fn, { port: 0, host: "127.0.0.1", exit: false, log: false, mode });
  track({ close: () => server.close() });
  const { host, port } = await server.ready;
  return `${host}:${port}`;
}

function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

function only(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const matching = spans.filter((span) => span.name === name && span.kind === kind);
  expect(matching, `${SpanKind[kind]} spans named ${name}`).toHaveLength(1);
  return matching[0] as ReadableSpan;
}

/** app → a → b: the app calls "a", whose function calls "b" (each function with its own client, as in its own replica). */
async function chain(b: (args: unknown) => unknown): Promise<Client> {
  const callsB = track(createClient({ endpoints: { b: await serve(b, "single-shot") } }));
  const a = await serve(async (args) => ({ fromB: await callsB.call("b", args) }));
  return track(createClient({ endpoints: { a } }));
}

describe("with OpenTelemetry set up", () => {
  test("app → a → b is one trace of five spans: app, CLIENT a, SERVER a, CLIENT b, SERVER b, each the parent of the next", async () => {
    const client = await chain((args) => ({ b: args, traceparentSeen: trace.getActiveSpan()?.spanContext().spanId }));
    const tracer = trace.getTracer("app");
    const result = await tracer.startActiveSpan("app", async (span) => {
      try {
        return await client.call("a", { n: 1 });
      } finally {
        span.end();
      }
    });
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(5);
    const app = only(spans, "app", SpanKind.INTERNAL);
    const clientA = only(spans, "a", SpanKind.CLIENT);
    const serverA = only(spans, "a", SpanKind.SERVER);
    const clientB = only(spans, "b", SpanKind.CLIENT);
    const serverB = only(spans, "b", SpanKind.SERVER);
    const traceId = app.spanContext().traceId;
    for (const span of spans) expect(span.spanContext().traceId).toBe(traceId);
    expect(parentOf(app)).toBeUndefined();
    expect(parentOf(clientA)).toBe(app.spanContext().spanId);
    expect(parentOf(serverA)).toBe(clientA.spanContext().spanId);
    expect(parentOf(clientB)).toBe(serverA.spanContext().spanId);
    expect(parentOf(serverB)).toBe(clientB.spanContext().spanId);
    // Inside b's function, its SERVER span is the active one.
    expect(result).toEqual({ fromB: { b: { n: 1 }, traceparentSeen: serverB.spanContext().spanId } });
    expect(serverB.attributes).toMatchObject({ "rpc.system": "funker", "rpc.method": "b", "funker.protocol": "framed" });
    expect(clientB.attributes["funker.call.id"]).toBe(serverB.attributes["funker.call.id"]);
    for (const span of spans) expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  test("a failed call ends its CLIENT and SERVER spans as errors with the error's code", async () => {
    const client = await chain(() => {
      throw new Error("b broke");
    });
    const error = await rejectionOf(client.call("a", {}));
    expect(error.code).toBe("handler_error");
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(4);
    for (const span of spans) {
      expect(span.status.code, `${span.name} ${SpanKind[span.kind]}`).toBe(SpanStatusCode.ERROR);
      expect(span.attributes["error.type"]).toBe("handler_error");
    }
    // Without an active span the app's call starts the trace: its CLIENT span is the root.
    expect(parentOf(only(spans, "a", SpanKind.CLIENT))).toBeUndefined();
  });

  test("a call given its own traceparent is sent with it, without a CLIENT span", async () => {
    const endpoint = await serve(() => "ok");
    const client = track(createClient({ endpoints: { c: endpoint } }));
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await expect(client.call("c", {}, { traceparent, tracestate: "vendor=value" })).resolves.toBe("ok");
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const server = only(spans, "c", SpanKind.SERVER);
    expect(server.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(parentOf(server)).toBe("b7ad6b7169203331");
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(server.spanContext().traceState?.get("vendor")).toBe("value");
  });

  test("a malformed traceparent starts a new trace instead of failing the call", async () => {
    const endpoint = await serve(() => "ok");
    const client = track(createClient({ endpoints: { c: endpoint } }));
    await expect(client.call("c", {}, { traceparent: "00-00000000000000000000000000000000-b7ad6b7169203331-01" })).resolves.toBe("ok");
    const server = only(exporter.getFinishedSpans(), "c", SpanKind.SERVER);
    expect(parentOf(server)).toBeUndefined();
    expect(server.spanContext().traceId).not.toBe("00000000000000000000000000000000");
  });
});
