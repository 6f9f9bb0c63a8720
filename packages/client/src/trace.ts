/**
 * W3C trace context from the active OpenTelemetry span, without depending on
 * `@opentelemetry/api`. Every copy of that API registers its global state on
 * `globalThis[Symbol.for("opentelemetry.js.api.1")]`: `context` there is the
 * registered context manager (its `active()` returns the active context),
 * and a context holds the active span under the key
 * `Symbol.for("OpenTelemetry Context Key SPAN")`. Reading them directly costs
 * one property look-up when OpenTelemetry is absent. Anything unexpected
 * means no trace context: tracing must never break a call.
 */

const OPENTELEMETRY_API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_CONTEXT_KEY = Symbol.for("OpenTelemetry Context Key SPAN");
const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

interface SpanContextShape {
  traceId?: unknown;
  spanId?: unknown;
  traceFlags?: unknown;
  traceState?: { serialize?: () => unknown };
}

export function activeTraceContext(): TraceContext | undefined {
  const registry = (globalThis as Record<symbol, unknown>)[OPENTELEMETRY_API_KEY] as { context?: { active?: () => unknown } } | undefined;
  if (registry === undefined) return undefined;
  try {
    const manager = registry.context;
    if (typeof manager?.active !== "function") return undefined;
    const context = manager.active() as { getValue?: (key: symbol) => unknown } | undefined;
    if (typeof context?.getValue !== "function") return undefined;
    const span = context.getValue(SPAN_CONTEXT_KEY) as { spanContext?: () => SpanContextShape } | undefined;
    if (typeof span?.spanContext !== "function") return undefined;
    const spanContext = span.spanContext();
    const { traceId, spanId, traceFlags } = spanContext;
    if (typeof traceId !== "string" || !TRACE_ID.test(traceId) || traceId === ZERO_TRACE_ID) return undefined;
    if (typeof spanId !== "string" || !SPAN_ID.test(spanId) || spanId === ZERO_SPAN_ID) return undefined;
    const flags = typeof traceFlags === "number" && Number.isInteger(traceFlags) && traceFlags >= 0 && traceFlags <= 255 ? traceFlags : 0;
    const traceContext: TraceContext = { traceparent: `00-${traceId}-${spanId}-${flags.toString(16).padStart(2, "0")}` };
    const state = typeof spanContext.traceState?.serialize === "function" ? spanContext.traceState.serialize() : undefined;
    if (typeof state === "string" && state !== "" && state.length <= 512) traceContext.tracestate = state;
    return traceContext;
  } catch {
    return undefined;
  }
}
