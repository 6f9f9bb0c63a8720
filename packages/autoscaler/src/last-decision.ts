import type { Decision } from "./decide.js";
import type { ServiceSummary } from "./engine.js";

/**
 * The label on which the autoscaler leaves its last scaling of a service,
 * as JSON, for `funker status` and `docker service inspect` to show. It is
 * written by the scale's own update (a service label, not the task
 * template's, so no replica restarts for it): no request of its own.
 */
export const LAST_DECISION_LABEL = "io.funker.autoscaler.last";

/** What the label holds: the log line's figures (the decision without its memory) and when. */
export type LastDecision = Omit<Decision, "memory"> & {
  /** Epoch milliseconds. */
  readonly at: number;
};

/** `service` with `decision` in its spec's labels, ready to be scaled: the update then records it. */
export function withLastDecision(service: ServiceSummary, decision: Decision, at: number): ServiceSummary {
  const last: LastDecision = {
    at,
    from: decision.from,
    to: decision.to,
    reason: decision.reason,
    free: decision.free,
    busy: decision.busy,
    starting: decision.starting,
    refused: decision.refused,
  };
  const labels = { ...service.labels, [LAST_DECISION_LABEL]: JSON.stringify(last) };
  return { ...service, labels, spec: { ...service.spec, Labels: labels } };
}
