import type { WireError } from "@funker/protocol";
import { SPAN_KIND_SERVER, endSpan, openTelemetry, parseTraceparent } from "@funker/node-utils";
import type { OpenTelemetryApi, OtelContext, OtelSpan } from "@funker/node-utils";
import type { CallDescription } from "./context.js";

/**
 * A call's SERVER span, where the program has set OpenTelemetry up: a child
 * of the caller's span (the call's `traceparent`), active while the function
 * runs, so that the calls it makes with `@funker/client` (and anything else
 * instrumented) continue the trace.
 */
export class ServerSpan {
  private constructor(
    private readonly api: OpenTelemetryApi,
    private readonly span: OtelSpan,
    private readonly context: OtelContext,
  ) {}

  /** Undefined, at the cost of one property look-up, when OpenTelemetry is not set up; tracing never fails a call. */
  static start(call: CallDescription, servedName: string | undefined): ServerSpan | undefined {
    const api = openTelemetry(import.meta.url);
    if (api === undefined) return undefined;
    try {
      const parent = call.traceparent === undefined ? undefined : parseTraceparent(api, call.traceparent, call.tracestate);
      const parentContext = parent === undefined ? api.ROOT_CONTEXT : api.trace.setSpanContext(api.ROOT_CONTEXT, parent);
      const name = call.functionName ?? servedName ?? "funker";
      const span = api.trace.getTracer("@funker/handler").startSpan(
        name,
        { kind: SPAN_KIND_SERVER, attributes: { "rpc.system": "funker", "rpc.method": name, "funker.call.id": call.id, "funker.protocol": call.protocol } },
        parentContext,
      );
      return new ServerSpan(api, span, api.trace.setSpan(parentContext, span));
    } catch {
      return undefined;
    }
  }

  /** Runs `fn` with this span active. */
  run<Result>(fn: () => Result): Result {
    return this.api.context.with(this.context, fn);
  }

  /** Ends the span, marked as failed with the error's code when the call failed. */
  end(error: WireError | undefined): void {
    endSpan(this.span, error);
  }
}
