/**
 * The autoscaler's decision for one function at one tick, as a pure
 * function of what it observed and the time: no Docker, no clock, no timers,
 * so that recorded sequences of states can be replayed in tests.
 */
import type { ScaleBounds } from "./labels.js";

/** One replica as its status port described it (or failed to). */
export type ReplicaObservation =
  /**
   * It answered and takes calls: `free` of `capacity` slots, `inFlight` calls running, and `refused` callers it
   * answered `unavailable` since the previous tick (its status port's `refused`, as a difference).
   */
  | { readonly state: "ready"; readonly capacity: number; readonly free: number; readonly inFlight: number; readonly refused: number; readonly served?: number }
  /** It does not answer yet, or says it is starting: it will take calls soon. */
  | { readonly state: "starting" }
  /** It takes no more calls (told to stop, or a single-shot replica serving its call): it may still finish some. */
  | { readonly state: "stopping"; readonly inFlight: number; readonly refused: number; readonly served?: number };

/*
 * `served`: calls the replica finished since the previous tick (its status port's `callsServed`, as a difference; 0
 * when not known). Calls that start and end between two ticks leave no trace in `inFlight`: this is how a function
 * with short calls is told from an idle one before it goes to zero.
 */

/** What the autoscaler saw of a function at one tick. */
export interface FunctionObservation {
  /** The replica count the service asks for now. */
  readonly desired: number;
  /** Its replicas that run, stopping ones included (a task the service asks for that does not run yet is counted from `desired` as starting). */
  readonly replicas: readonly ReplicaObservation[];
}

/**
 * What the decision carries from one tick to the next: when the function
 * was first seen with more replicas than it needs, and since when it has
 * had no call at all. An autoscaler that restarts starts from an empty
 * memory, which only delays a scale-down.
 */
export interface DecisionMemory {
  /** Milliseconds since the epoch; undefined while the function needs every replica it has. */
  readonly surplusSince: number | undefined;
  /** Milliseconds since the epoch; undefined while calls run, are served or refused, or a replica starts. */
  readonly idleSince?: number | undefined;
}

export const EMPTY_MEMORY: DecisionMemory = { surplusSince: undefined, idleSince: undefined };

/** The decision and the figures behind it, for the log line. */
export interface Decision {
  readonly from: number;
  readonly to: number;
  /** Why `to` (also when it equals `from`), in a few words. */
  readonly reason: string;
  /** Free slots, counting the capacity of starting replicas. */
  readonly free: number;
  /** Calls running on the replicas. */
  readonly busy: number;
  /** Replicas starting, including the tasks Swarm has not started yet. */
  readonly starting: number;
  /** Callers the replicas refused since the last tick. */
  readonly refused: number;
  readonly memory: DecisionMemory;
}

/**
 * Decides how many replicas a function should have:
 * - enough that its free capacity, counting replicas that are starting, is
 *   at least `warm`, within `min` and `max`;
 * - up at once, by as many replicas as the shortfall needs, counting the
 *   callers refused since the last tick as wanting a slot each (one step: the
 *   new replicas count as free while they start, so the same load does not
 *   scale up again). A caller retries a refusal several times a second, so
 *   refusals overstate the callers behind them: a step of load may overshoot,
 *   up to `max`, and the surplus goes after the cool-down;
 * - down only once the function has had more replicas than it needs for the
 *   whole `idleMs` cool-down (counted while no replica is starting), straight
 *   to what it needs, and never below the replicas that have calls running.
 *
 * With `min` 0 it goes to zero once the function has had no call (none
 * running, served or refused, no replica starting) for the whole `idleMs`,
 * and stays there: a caller that finds no replica asks the autoscaler's
 * wake port for one (`Autoscaler`), not this decision. With `min` above 0,
 * or while in use, it keeps at least one.
 *
 * A starting replica counts for the capacity of the replicas that answered
 * (the largest seen), or 1 when none has.
 */
export function decide(bounds: ScaleBounds, observation: FunctionObservation, memory: DecisionMemory, now: number): Decision {
  const from = observation.desired;
  let free = 0;
  let busy = 0;
  let refused = 0;
  let served = 0;
  let startingSeen = 0;
  let active = 0;
  let busyReplicas = 0;
  let capacity = 0;
  for (const replica of observation.replicas) {
    if (replica.state === "starting") startingSeen += 1;
    else {
      busy += replica.inFlight;
      refused += replica.refused;
      served += replica.served ?? 0;
      if (replica.inFlight > 0) busyReplicas += 1;
    }
    if (replica.state === "ready") {
      free += replica.free;
      capacity = Math.max(capacity, replica.capacity);
    }
    // A stopping replica still holds its slot: a single-shot one serving its call restarts only once it has exited.
    active += 1;
  }
  const perReplica = Math.max(capacity, 1);
  // Tasks the service asks for that do not run yet are starting too.
  const starting = startingSeen + Math.max(0, from - active);
  free += starting * perReplica;
  const figures = { from, free, busy, starting, refused };

  const idle = busy === 0 && refused === 0 && served === 0 && starting === 0;
  const idleSince = idle ? (memory.idleSince ?? now) : undefined;
  // At zero with min 0, a caller wakes the function (the wake port): the decision waits for that.
  if (from === 0 && bounds.min === 0) return { ...figures, to: 0, reason: "at zero until a caller wakes it", memory: { surplusSince: undefined, idleSince } };
  // While in use, one replica at least: warm counts for a function that takes calls.
  const floor = Math.max(bounds.min, 1);
  const needed = Math.max(floor, Math.ceil((busy + bounds.warm) / perReplica), busyReplicas);
  const clamped = (count: number): number => Math.min(bounds.max, Math.max(floor, count));

  const reset: DecisionMemory = { surplusSince: undefined, idleSince };
  if (from < floor) return { ...figures, to: floor, reason: `below min ${floor}`, memory: reset };
  if (from > bounds.max) return { ...figures, to: bounds.max, reason: `above max ${bounds.max}`, memory: reset };

  // Callers refused since the last tick want slots now, on top of the warm ones.
  const wanted = bounds.warm + refused;
  if (free < wanted) {
    const to = clamped(from + Math.ceil((wanted - free) / perReplica));
    const shortfall = refused > 0 ? `free ${free} < warm ${bounds.warm} + refused ${refused}` : `free ${free} < warm ${bounds.warm}`;
    return { ...figures, to, reason: to === from ? `${shortfall}, at max ${bounds.max}` : shortfall, memory: reset };
  }

  if (bounds.min === 0 && idleSince !== undefined && now - idleSince >= bounds.idleMs) {
    return { ...figures, to: 0, reason: `no call for ${now - idleSince} ms (idle ${bounds.idleMs} ms)`, memory: EMPTY_MEMORY };
  }

  const target = clamped(needed);
  if (target >= from) return { ...figures, to: from, reason: `free ${free} >= warm ${bounds.warm}`, memory: reset };
  // What starting replicas will take is not known yet: the cool-down counts from when every replica has answered.
  if (starting > 0) return { ...figures, to: from, reason: `${target} may do; waiting for ${starting} starting`, memory: reset };
  const surplusSince = memory.surplusSince ?? now;
  const idleForMs = now - surplusSince;
  if (idleForMs < bounds.idleMs) {
    return { ...figures, to: from, reason: `${target} would do; cooling down ${idleForMs} of ${bounds.idleMs} ms`, memory: { surplusSince, idleSince } };
  }
  // A function going to zero that has had no call since: one scale-down, to zero once idle long enough, not two.
  if (bounds.min === 0 && idleSince !== undefined) {
    return { ...figures, to: from, reason: `${target} would do, 0 once idle ${bounds.idleMs} ms; no call for ${now - idleSince} ms`, memory: { surplusSince, idleSince } };
  }
  return { ...figures, to: target, reason: `${target} did for ${idleForMs} ms (idle ${bounds.idleMs} ms)`, memory: reset };
}
