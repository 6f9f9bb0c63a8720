export { Alarm } from "./alarm.js";
export { LONGEST_TIMER_MS, timerDelay } from "./timers.js";
export { TCP_KEEPALIVE_DELAY_MS } from "./tcp.js";
export { freePort } from "./ports.js";
export { KEY_VARIABLES, KeyRing, MIN_KEY_LENGTH, SharedKeyError, digestArguments, formatKeyFiles, keyIdOf, keySourceFor, macMatches, parseKeyFiles, parseKeys, signCall } from "./keys.js";
export type { KeyOptions, KeySource, SharedKey } from "./keys.js";
export { SPAN_KIND_CLIENT, SPAN_KIND_SERVER, endSpan, openTelemetry, parseTraceparent, traceContextOf } from "./opentelemetry.js";
export type { OpenTelemetryApi, OtelAttributes, OtelContext, OtelSpan, OtelSpanContext, OtelTracer } from "./opentelemetry.js";
