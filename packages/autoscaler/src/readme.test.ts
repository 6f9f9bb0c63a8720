import { describe, expect, it } from "vitest";
import { decide, EMPTY_MEMORY, readScaleBounds } from "@funker/autoscaler";

// The README's example, as written there.
describe("README", () => {
  it("scales a busy function that refused callers up in one step", () => {
    const bounds = readScaleBounds({ "io.funker.scale.min": "1", "io.funker.scale.max": "8", "io.funker.scale.warm": "1" });
    if (bounds === undefined) throw new Error("not a scaled function");
    const decision = decide(
      bounds,
      // One replica, busy with a call, that refused 5 callers since the previous tick.
      { desired: 1, replicas: [{ state: "ready", capacity: 1, free: 0, inFlight: 1, refused: 5 }] },
      EMPTY_MEMORY,
      Date.now(),
    );
    expect([decision.to, decision.reason]).toEqual([7, "free 0 < warm 1 + refused 5"]);
  });
});
