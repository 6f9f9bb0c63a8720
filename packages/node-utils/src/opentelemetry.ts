/**
 * OpenTelemetry, when the program has it, without depending on it.
 *
 * `@opentelemetry/api` is an optional peer of the handler and the client:
 * most functions do not trace, and they must pay nothing for those that do.
 * Every copy of the API keeps its global state (the registered tracer
 * provider and context manager) on `globalThis[Symbol.for("opentelemetry.js.api.1")]`,
 * so that property tells, with one look-up and no module load, whether the
 * program has set OpenTelemetry up. Only then is the API resolved, once,
 * from the package that asks (where a package manager links its peer), and
 * any copy of it works on the same global state.
 */

import { MAX_TRACE_CONTEXT_LENGTH } from "@funker/protocol";

const OPENTELEMETRY_API_KEY = Symbol.for("opentelemetry.js.api.1");

/** `SpanKind.SERVER` and `SpanKind.CLIENT` of the API: part of its stable interface. */
export const SPAN_KIND_SERVER = 1;
export const SPAN_KIND_CLIENT = 2;
/** `SpanStatusCode.ERROR`. */
export const SPAN_STATUS_ERROR = 2;

/** The parts of an OpenTelemetry `Context` Funker touches: it only passes contexts on. */
export type OtelContext = object;

export interface OtelTraceState {
  serialize(): string;
}

export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
  traceState?: OtelTraceState;
}

export type OtelAttributes = Record<string, string | number | boolean>;

export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

export interface OtelTracer {
  startSpan(name: string, options: { kind: number; attributes?: OtelAttributes }, context: OtelContext): OtelSpan;
}

/** The subset of `@opentelemetry/api` used here, stable since its 1.3 release. */
export interface OpenTelemetryApi {
  ROOT_CONTEXT: OtelContext;
  context: { active(): OtelContext; with<Result>(context: OtelContext, fn: () => Result): Result };
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
  };
  createTraceState?: (text: string) => OtelTraceState;
}

interface BuiltinModules {
  getBuiltinModule?: (id: "node:module") => { createRequire(from: string): (id: string) => unknown };
}

/** Per resolving package: the API, or null when it could not be resolved (not retried on every call). */
const resolved = new Map<string, OpenTelemetryApi | null>();

/**
 * The OpenTelemetry API when the program has set OpenTelemetry up and the
 * API resolves from `from` (the asking module's `import.meta.url`);
 * undefined otherwise. Cheap enough to ask on every call.
 */
export function openTelemetry(from: string): OpenTelemetryApi | undefined {
  if ((globalThis as Record<symbol, unknown>)[OPENTELEMETRY_API_KEY] === undefined) return undefined;
  let api = resolved.get(from);
  if (api === undefined) {
    api = resolveApi(from);
    resolved.set(from, api);
  }
  return api ?? undefined;
}

function resolveApi(from: string): OpenTelemetryApi | null {
  try {
    const modules = process as unknown as BuiltinModules;
    const createRequire = modules.getBuiltinModule?.("node:module").createRequire;
    if (createRequire === undefined) return null;
    const api = createRequire(from)("@opentelemetry/api") as Partial<OpenTelemetryApi> | undefined;
    if (typeof api?.trace?.getTracer !== "function" || typeof api.context?.with !== "function" || api.ROOT_CONTEXT === undefined) return null;
    return api as OpenTelemetryApi;
  } catch {
    return null;
  }
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;
const ZERO_TRACE_ID = "0".repeat(32);
const ZERO_SPAN_ID = "0".repeat(16);

/**
 * The remote span context a W3C `traceparent` (and `tracestate`) names, or
 * undefined for one that is malformed or invalid (W3C Trace Context 3.2:
 * version ff, all-zero ids); a later version's extra fields are ignored, as
 * the specification asks.
 */
export function parseTraceparent(api: OpenTelemetryApi, traceparent: string, tracestate: string | undefined): OtelSpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === "ff" || (version === "00" && traceparent.length !== 55)) return undefined;
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const spanContext: OtelSpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
  if (tracestate !== undefined && tracestate !== "" && api.createTraceState !== undefined) spanContext.traceState = api.createTraceState(tracestate);
  return spanContext;
}

/** The `traceparent` (and `tracestate`) that name `span` as the parent of the next hop. */
export function traceContextOf(span: OtelSpan): { traceparent: string; tracestate?: string } | undefined {
  const { traceId, spanId, traceFlags, traceState } = span.spanContext();
  if (traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) return undefined;
  const traceContext: { traceparent: string; tracestate?: string } = {
    traceparent: `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, "0")}`,
  };
  const state = traceState?.serialize();
  // A longer tracestate would make the call's header invalid; the trace holds without it.
  if (state !== undefined && state !== "" && state.length <= MAX_TRACE_CONTEXT_LENGTH) traceContext.tracestate = state;
  return traceContext;
}

/** Ends `span`, marked as failed with the error's code when its call failed; a failing tracer never fails a call. */
export function endSpan(span: OtelSpan, error: { code: string; message: string } | undefined): void {
  try {
    if (error !== undefined) {
      span.setAttribute("error.type", error.code);
      span.setStatus({ code: SPAN_STATUS_ERROR, message: `${error.code}: ${error.message}` });
    }
    span.end();
  } catch {
    // Nothing to do: the call's outcome stands.
  }
}
