import type { FunkerError } from "@funker/protocol";
import { SPAN_KIND_CLIENT, endSpan, openTelemetry, traceContextOf } from "@funker/node-utils";
import type { OtelSpan } from "@funker/node-utils";
import type { TraceContext } from "./trace.js";

/**
 * A call's CLIENT span, where the program has set OpenTelemetry up: a child
 * of the active span, covering every attempt of the call, and the parent the
 * call's `traceparent` names to the function's SERVER span.
 */
export class ClientSpan {
  private constructor(
    private readonly span: OtelSpan,
    /** What the call sends: this span as the function's parent. */
    readonly traceContext: TraceContext,
  ) {}

  /** Undefined, at the cost of one property look-up, when OpenTelemetry is not set up (or its API does not resolve); tracing never fails a call. */
  static start(name: string, callId: string): ClientSpan | undefined {
    const api = openTelemetry(import.meta.url);
    if (api === undefined) return undefined;
    try {
      const span = api.trace.getTracer("@funker/client").startSpan(
        name,
        { kind: SPAN_KIND_CLIENT, attributes: { "rpc.system": "funker", "rpc.method": name, "funker.call.id": callId } },
        api.context.active(),
      );
      const traceContext = traceContextOf(span);
      // An invalid span: the API copy found does not see the program's OpenTelemetry (another major version); the caller reads the active span itself.
      if (traceContext === undefined) {
        span.end();
        return undefined;
      }
      return new ClientSpan(span, traceContext);
    } catch {
      return undefined;
    }
  }

  /** Ends the span, marked as failed with the error's code when the call failed. */
  end(error: FunkerError | undefined): void {
    endSpan(this.span, error);
  }
}
