import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HandlerMode } from "../../packages/handler/src/contract.js";
import { buildRecordImage, runSwarmSoak } from "../../packages/soak/src/swarm.js";
import type { SoakReport } from "../../packages/soak/src/soak.js";
import { images, report, runId, TEST_LABEL } from "./support.js";

// The soak's short version on the real Swarm (packages/soak/src/swarm.ts):
// the record function deployed with funker deploy, non-idempotent calls by
// name from a caller container, a `docker kill` of a replica every 0.5 s
// (mid-call and at random; none while the update runs) and a rolling update
// halfway; then every call
// reconciled against what executed. The full runs (pnpm soak -- --target
// swarm) are in docs/RELIABILITY.md.
describe("the short soak on the Swarm", () => {
  const recordImage = `funker-e2e/soak-record:${runId()}`;
  const reports: SoakReport[] = [];

  beforeAll(async () => {
    await buildRecordImage({ tag: recordImage, baseImage: images().handlerNode, labels: { [TEST_LABEL]: runId() } });
  });

  afterAll(() => {
    for (const each of reports) report(`soak on the Swarm, ${each.mode}`, each);
  });

  it.each<HandlerMode>(["reuse", "fresh", "single-shot"])(
    "%s: through docker kill and a rolling update, no call lost, none run twice, no wrong 'did not run'",
    async (mode) => {
      const soak = await runSwarmSoak({
        mode,
        replicas: 4,
        inFlight: 8,
        calls: 100_000,
        durationMs: 20_000,
        killEveryMs: 500,
        // A single-shot replica lives for one call, well under a second here: any replica is fair game.
        minReplicaAgeMs: mode === "single-shot" ? 0 : 1_000,
        maxWorkMs: 100,
        callTimeoutMs: 20_000,
        rollingUpdate: true,
        callerImage: images().caller,
        recordImage,
        stack: `${runId()}-soak-${mode === "single-shot" ? "single" : mode}`,
        labels: { [TEST_LABEL]: runId() },
      });
      reports.push(soak);
      expect({ lost: soak.lost, duplicated: soak.duplicated, wrongNotRun: soak.wrongNotRun, wrongValue: soak.wrongValue, examples: soak.examples }).toEqual({
        lost: 0,
        duplicated: 0,
        wrongNotRun: 0,
        wrongValue: 0,
        examples: {},
      });
      // The chaos happened, and calls got through it.
      expect(soak.kills.midCall + soak.kills.random).toBeGreaterThanOrEqual(1);
      expect(soak.succeeded).toBeGreaterThan(0);
    },
    300_000,
  );
});
