/**
 * The soak's callers: `inFlight` loops, each making one non-idempotent call
 * after another and keeping what it was told, until `calls` are made or the
 * time is up. The same code runs on the host (funker dev) and in a caller
 * container on the Swarm (swarm-caller.ts).
 */
import { FunkerError } from "@funker/client";
import type { Told } from "./reconcile.js";

export interface CallLoadOptions {
  readonly inFlight: number;
  readonly calls: number;
  readonly durationMs: number;
  /** Each call sleeps a random time up to this, so that kills land mid-call. */
  readonly maxWorkMs: number;
}

/** The one thing the loops need of a client. */
export interface Caller {
  call(name: string, args: unknown): Promise<unknown>;
}

/** Every call made, by soak id, with what its caller was told (undefined: it never settled). */
export async function makeCalls(client: Caller, functionName: string, options: CallLoadOptions): Promise<Map<number, Told | undefined>> {
  const told = new Map<number, Told | undefined>();
  const stopCallsAt = Date.now() + options.durationMs;
  let nextId = 1;
  const loop = async (): Promise<void> => {
    while (nextId <= options.calls && Date.now() < stopCallsAt) {
      const soakId = nextId;
      nextId += 1;
      told.set(soakId, undefined);
      const workMs = Math.floor(Math.random() * (options.maxWorkMs + 1));
      try {
        told.set(soakId, { ok: true, value: await client.call(functionName, { soakId, workMs }) });
      } catch (error) {
        const failure = FunkerError.from(error);
        told.set(soakId, { ok: false, code: failure.code, mayHaveRun: failure.mayHaveRun });
      }
    }
  };
  await Promise.all(Array.from({ length: options.inFlight }, loop));
  return told;
}
