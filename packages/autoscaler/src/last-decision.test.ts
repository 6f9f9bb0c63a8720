import { describe, expect, it } from "vitest";
import { EMPTY_MEMORY } from "./decide.js";
import type { Decision } from "./decide.js";
import type { ServiceSummary } from "./engine.js";
import { LAST_DECISION_LABEL, withLastDecision } from "./last-decision.js";
import type { LastDecision } from "./last-decision.js";

const service: ServiceSummary = {
  id: "abc",
  name: "add",
  labels: { "io.funker.function": "add", "io.funker.scale.max": "4" },
  replicas: 1,
  version: 7,
  spec: { Name: "add", Labels: { "io.funker.function": "add", "io.funker.scale.max": "4" }, Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { ContainerSpec: { Image: "add" } } },
};
const decision: Decision = { from: 1, to: 3, reason: "free 0 < warm 1", free: 0, busy: 1, starting: 0, refused: 2, memory: EMPTY_MEMORY };

describe("withLastDecision", () => {
  it("puts the decision in the service spec's labels, beside the others, leaving the task template and the service read alone", () => {
    const scaled = withLastDecision(service, decision, 1_700_000_000_000);
    const labels = scaled.spec["Labels"] as Record<string, string>;
    expect(labels["io.funker.function"]).toBe("add");
    expect(labels["io.funker.scale.max"]).toBe("4");
    expect(JSON.parse(labels[LAST_DECISION_LABEL] as string) as LastDecision).toEqual({
      at: 1_700_000_000_000,
      from: 1,
      to: 3,
      reason: "free 0 < warm 1",
      free: 0,
      busy: 1,
      starting: 0,
      refused: 2,
    });
    expect(scaled.labels[LAST_DECISION_LABEL]).toBe(labels[LAST_DECISION_LABEL]);
    expect(scaled.spec["TaskTemplate"]).toBe(service.spec["TaskTemplate"]);
    expect(scaled.version).toBe(7);
    expect(service.spec["Labels"]).not.toHaveProperty(LAST_DECISION_LABEL);
  });

  it("replaces the previous decision", () => {
    const first = withLastDecision(service, decision, 1);
    const second = withLastDecision(first, { ...decision, from: 3, to: 1, reason: "idle" }, 2);
    expect(JSON.parse((second.spec["Labels"] as Record<string, string>)[LAST_DECISION_LABEL] as string)).toMatchObject({ at: 2, from: 3, to: 1, reason: "idle" });
  });
});
