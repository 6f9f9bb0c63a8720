import { describe, expect, it } from "vitest";
import { decide, EMPTY_MEMORY } from "./decide.js";
import type { Decision, DecisionMemory, ReplicaObservation } from "./decide.js";
import type { ScaleBounds } from "./labels.js";

// Recorded sequences of what the autoscaler observes of one function, tick by
// tick: each step's replica count is the one the previous step decided.

const idle = (capacity = 1): ReplicaObservation => ({ state: "ready", capacity, free: capacity, inFlight: 0, refused: 0 });
const busy = (inFlight = 1, capacity = 1, refused = 0): ReplicaObservation => ({ state: "ready", capacity, free: capacity - inFlight, inFlight, refused });
const starting: ReplicaObservation = { state: "starting" };
const serving: ReplicaObservation = { state: "stopping", inFlight: 1, refused: 0 };
const times = (count: number, replica: ReplicaObservation): ReplicaObservation[] => Array.from({ length: count }, () => replica);

interface Step {
  /** Milliseconds since the recording began. */
  readonly at: number;
  /** Which step of the load it belongs to, for counting scale events per step. */
  readonly load: string;
  readonly replicas: readonly ReplicaObservation[];
  /** The replica count decided. */
  readonly to: number;
}

/** Replays `steps` from `desired` replicas; returns every decision, after checking each step's count. */
function replay(bounds: ScaleBounds, desired: number, steps: readonly Step[], memory: DecisionMemory = EMPTY_MEMORY): Decision[] {
  const decisions: Decision[] = [];
  for (const step of steps) {
    const decision = decide(bounds, { desired, replicas: step.replicas }, memory, step.at);
    expect({ at: step.at, to: decision.to, reason: decision.reason }).toEqual({ at: step.at, to: step.to, reason: decision.reason });
    decisions.push(decision);
    desired = decision.to;
    memory = decision.memory;
  }
  return decisions;
}

/** Scale-ups and scale-downs per load step. */
function scaleEvents(steps: readonly Step[], decisions: readonly Decision[]): Record<string, { up: number; down: number }> {
  const events: Record<string, { up: number; down: number }> = {};
  decisions.forEach((decision, index) => {
    const load = steps[index]?.load ?? "?";
    const counts = (events[load] ??= { up: 0, down: 0 });
    if (decision.to > decision.from) counts.up += 1;
    if (decision.to < decision.from) counts.down += 1;
  });
  return events;
}

const slowFunction: ScaleBounds = { min: 1, max: 8, warm: 1, idleMs: 5_000 };

describe("decide", () => {
  it("six callers on a reuse function of concurrency 1: one scale-up, and back to min after the cool-down, one scale-down per load step", () => {
    const steps: Step[] = [
      { at: 0, load: "none", replicas: [idle()], to: 1 },
      // The load starts: one call runs, and the other callers are refused (and retry) between ticks.
      { at: 1_000, load: "six", replicas: [busy(1, 1, 12)], to: 8 },
      { at: 2_000, load: "six", replicas: [busy(1, 1, 3), ...times(7, starting)], to: 8 },
      { at: 3_000, load: "six", replicas: [...times(6, busy()), idle(), idle()], to: 8 },
      { at: 5_000, load: "six", replicas: [...times(6, busy()), idle(), idle()], to: 8 },
      { at: 8_000, load: "six", replicas: [...times(6, busy()), idle(), idle()], to: 7 },
      { at: 9_000, load: "six", replicas: [...times(6, busy()), idle()], to: 7 },
      { at: 10_000, load: "stopped", replicas: times(7, idle()), to: 7 },
      { at: 14_999, load: "stopped", replicas: times(7, idle()), to: 7 },
      { at: 15_000, load: "stopped", replicas: times(7, idle()), to: 1 },
      { at: 16_000, load: "stopped", replicas: [idle()], to: 1 },
    ];
    const decisions = replay(slowFunction, 1, steps);
    expect(scaleEvents(steps, decisions)).toEqual({ none: { up: 0, down: 0 }, six: { up: 1, down: 1 }, stopped: { up: 0, down: 1 } });
    expect(decisions[1]).toMatchObject({ from: 1, to: 8, free: 0, busy: 1, refused: 12, reason: "free 0 < warm 1 + refused 12" });
    expect(decisions[9]?.reason).toBe("1 did for 5000 ms (idle 5000 ms)");
  });

  it("does not flap while calls in flight wobble under a steady load", () => {
    const wobble = [5, 6, 4, 6, 5, 6, 6, 5];
    const steps: Step[] = wobble.map((inFlight, index) => ({
      at: index * 2_000,
      load: "steady",
      replicas: [...times(inFlight, busy()), ...times(7 - inFlight, idle())],
      to: 7,
    }));
    expect(scaleEvents(steps, replay(slowFunction, 7, steps))).toEqual({ steady: { up: 0, down: 0 } });
  });

  it("counts starting replicas as free, so the same shortfall scales up once", () => {
    const steps: Step[] = [
      { at: 0, load: "one", replicas: [busy()], to: 2 },
      { at: 1_000, load: "one", replicas: [busy()], to: 2 },
      { at: 2_000, load: "one", replicas: [busy(), starting], to: 2 },
      { at: 3_000, load: "one", replicas: [busy(), idle()], to: 2 },
    ];
    expect(scaleEvents(steps, replay(slowFunction, 1, steps))).toEqual({ one: { up: 1, down: 0 } });
  });

  it("single-shot: a replica serving its call holds its slot until it restarts", () => {
    const bounds: ScaleBounds = { min: 1, max: 4, warm: 1, idleMs: 5_000 };
    replay(bounds, 1, [
      { at: 0, load: "one", replicas: [idle()], to: 1 },
      { at: 1_000, load: "one", replicas: [serving], to: 2 },
      // The serving replica has exited and not yet restarted: Swarm's task counts as starting.
      { at: 2_000, load: "one", replicas: [idle()], to: 2 },
      { at: 3_000, load: "one", replicas: [idle(), idle()], to: 2 },
    ]);
  });

  it("fresh and reuse replicas of several slots: starting ones count for the capacity seen", () => {
    const bounds: ScaleBounds = { min: 1, max: 10, warm: 3, idleMs: 5_000 };
    const decisions = replay(bounds, 2, [
      { at: 0, load: "four", replicas: [busy(2, 2), busy(2, 2)], to: 4 },
      { at: 1_000, load: "four", replicas: [busy(2, 2), busy(2, 2), starting, starting], to: 4 },
    ]);
    expect(decisions[1]).toMatchObject({ free: 4, starting: 2 });
  });

  it("never goes below the replicas that have calls running", () => {
    const bounds: ScaleBounds = { min: 1, max: 8, warm: 1, idleMs: 1_000 };
    // Four slots each, one call on each of three replicas: one replica would hold the calls, but not these calls.
    replay(bounds, 3, [
      { at: 0, load: "three", replicas: times(3, busy(1, 4)), to: 3 },
      { at: 5_000, load: "three", replicas: times(3, busy(1, 4)), to: 3 },
    ]);
  });

  it("keeps the cool-down still while a replica starts", () => {
    replay(slowFunction, 3, [
      { at: 0, load: "none", replicas: [idle(), idle(), starting], to: 3 },
      { at: 10_000, load: "none", replicas: [idle(), idle(), starting], to: 3 },
      { at: 11_000, load: "none", replicas: times(3, idle()), to: 3 },
      { at: 16_000, load: "none", replicas: times(3, idle()), to: 1 },
    ]);
  });

  it("brings a count set outside the bounds back inside at once", () => {
    expect(decide(slowFunction, { desired: 0, replicas: [] }, EMPTY_MEMORY, 0)).toMatchObject({ to: 1, reason: "below min 1" });
    expect(decide(slowFunction, { desired: 12, replicas: times(12, idle()) }, EMPTY_MEMORY, 0)).toMatchObject({ to: 8, reason: "above max 8" });
  });

  it("stays at max when every slot is busy, and says so", () => {
    expect(decide(slowFunction, { desired: 8, replicas: times(8, busy(1, 1, 4)) }, EMPTY_MEMORY, 0)).toMatchObject({
      to: 8,
      reason: "free 0 < warm 1 + refused 32, at max 8",
    });
  });

  it("an autoscaler restarted mid-cool-down starts the cool-down again, and never scales down early", () => {
    const steps: Step[] = [
      { at: 0, load: "stopped", replicas: times(4, idle()), to: 4 },
      { at: 4_000, load: "stopped", replicas: times(4, idle()), to: 4 },
    ];
    const before = replay(slowFunction, 4, steps);
    expect(before[1]?.memory.surplusSince).toBe(0);
    // The new process has no memory: 4 s more of the same is not yet a cool-down.
    replay(slowFunction, 4, [
      { at: 6_000, load: "stopped", replicas: times(4, idle()), to: 4 },
      { at: 10_000, load: "stopped", replicas: times(4, idle()), to: 4 },
      { at: 11_000, load: "stopped", replicas: times(4, idle()), to: 1 },
    ]);
  });

  describe("with min 0", () => {
    const toZero: ScaleBounds = { min: 0, max: 4, warm: 1, idleMs: 5_000 };
    const servedOne = (): ReplicaObservation => ({ state: "ready", capacity: 1, free: 1, inFlight: 0, refused: 0, served: 1 });

    it("goes to zero after a whole idle period without calls, and stays there until woken", () => {
      const steps: Step[] = [
        { at: 0, load: "none", replicas: [idle()], to: 1 },
        { at: 4_000, load: "none", replicas: [idle()], to: 1 },
        { at: 5_000, load: "none", replicas: [idle()], to: 0 },
        { at: 6_000, load: "none", replicas: [], to: 0 },
        { at: 60_000, load: "none", replicas: [], to: 0 },
      ];
      const decisions = replay(toZero, 1, steps);
      expect(decisions[2]?.reason).toBe("no call for 5000 ms (idle 5000 ms)");
      expect(decisions[3]?.reason).toBe("at zero until a caller wakes it");
      expect(scaleEvents(steps, decisions)).toEqual({ none: { up: 0, down: 1 } });
    });

    it("counts short calls served between ticks as use: each one starts the idle period again", () => {
      replay(toZero, 1, [
        { at: 0, load: "short calls", replicas: [idle()], to: 1 },
        { at: 4_000, load: "short calls", replicas: [servedOne()], to: 1 },
        { at: 8_000, load: "short calls", replicas: [idle()], to: 1 },
        { at: 12_000, load: "short calls", replicas: [idle()], to: 1 },
        { at: 13_000, load: "short calls", replicas: [idle()], to: 0 },
      ]);
    });

    it("a woken function waits for its replica, serves, and goes back to zero once idle again: one up, one down", () => {
      // Desired 1 as the wake port set it; the replica starts, takes the first call, then nothing.
      const steps: Step[] = [
        { at: 0, load: "first call", replicas: [starting], to: 1 },
        { at: 1_000, load: "first call", replicas: [busy()], to: 2 },
        { at: 2_000, load: "first call", replicas: [servedOne(), idle()], to: 2 },
        { at: 3_000, load: "none", replicas: [idle(), idle()], to: 2 },
        { at: 8_000, load: "none", replicas: [idle(), idle()], to: 0 },
      ];
      const decisions = replay(toZero, 1, steps);
      expect(scaleEvents(steps, decisions)).toEqual({ "first call": { up: 1, down: 0 }, none: { up: 0, down: 1 } });
    });

    it("after a load, goes straight to zero once idle, not first down to one: one scale-up and one scale-down per step", () => {
      const steps: Step[] = [
        { at: 0, load: "four", replicas: [busy(1, 1, 9)], to: 4 },
        { at: 1_000, load: "four", replicas: [busy(), ...times(3, starting)], to: 4 },
        { at: 2_000, load: "four", replicas: times(4, busy()), to: 4 },
        // The callers stop one by one: calls still served in this tick, so not yet idle, but a surplus.
        { at: 3_000, load: "none", replicas: [servedOne(), ...times(3, idle())], to: 4 },
        { at: 4_000, load: "none", replicas: times(4, idle()), to: 4 },
        { at: 8_000, load: "none", replicas: times(4, idle()), to: 4 },
        { at: 9_000, load: "none", replicas: times(4, idle()), to: 0 },
      ];
      const decisions = replay(toZero, 1, steps);
      expect(decisions[5]?.reason).toBe("1 would do, 0 once idle 5000 ms; no call for 4000 ms");
      expect(scaleEvents(steps, decisions)).toEqual({ four: { up: 1, down: 0 }, none: { up: 0, down: 1 } });
    });

    it("an autoscaler restarted while a function idles starts the idle period again", () => {
      replay(toZero, 1, [
        { at: 0, load: "none", replicas: [idle()], to: 1 },
        { at: 4_000, load: "none", replicas: [idle()], to: 1 },
      ]);
      replay(toZero, 1, [
        { at: 6_000, load: "none", replicas: [idle()], to: 1 },
        { at: 10_000, load: "none", replicas: [idle()], to: 1 },
        { at: 11_000, load: "none", replicas: [idle()], to: 0 },
      ]);
    });
  });

  it("keeps one replica with min 0 while calls run, and with min 1 even when idle", () => {
    const bounds: ScaleBounds = { min: 0, max: 2, warm: 0, idleMs: 1_000 };
    replay(bounds, 2, [
      { at: 0, load: "one call", replicas: [busy(), idle()], to: 2 },
      { at: 1_000, load: "one call", replicas: [busy(), idle()], to: 1 },
      { at: 5_000, load: "one call", replicas: [busy()], to: 1 },
    ]);
    replay(slowFunction, 1, [
      { at: 0, load: "none", replicas: [idle()], to: 1 },
      { at: 60_000, load: "none", replicas: [idle()], to: 1 },
    ]);
  });
});
