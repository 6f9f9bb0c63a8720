import { ExitCode as HandlerExit } from "@funker/handler/contract";

/**
 * When `funker dev` starts a replica's process again, as a pure decision:
 * given how the process ended and the slot's history, restart now, restart
 * after a delay, or give up, and why. The runtime (replica.ts) only carries
 * the decision out, so the policy is tested without processes and can change
 * (to restart as Swarm does, say) in this one place.
 */

/** The numbers of the policy. Swarm's and Compose's restart delay is 0, but they are not on a laptop's CPU. */
export interface RestartPolicy {
  /** The first delay after a failure; it doubles with each failure in a row. */
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A process that stayed up this long was healthy: its failure starts the back-off anew. */
  readonly healthyAfterMs: number;
  /**
   * Failures in a row of a slot that never listened before a waiting command
   * is given up on (about 3 s of back-off): it would only wait in vain.
   */
  readonly failuresBeforeGivingUp: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 100,
  maxDelayMs: 10_000,
  healthyAfterMs: 10_000,
  failuresBeforeGivingUp: 5,
};

/** How a replica's process ended. */
export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Calls the process served (counted from its call log lines). */
  readonly callsServed: number;
  readonly upMs: number;
  /** The process's own fatal log line, when it wrote one. */
  readonly fatalMessage?: string | undefined;
  /** A service of `services:`: long-running, so any exit is a failure, and its exit codes are its own, not the handler's. */
  readonly service?: boolean;
  /**
   * Whether this process was seen listening. A function's replica that had
   * started is replaced as the deployment replaces it (`restartDelayMs`),
   * whatever ended it: a crash or a kill says nothing about the next start.
   */
  readonly listened?: boolean;
  /** The deployment's restart delay for this function's mode (`RESTART_DELAY_MS`); undefined for services. */
  readonly restartDelayMs?: number;
}

/** What the slot went through before this exit. */
export interface RestartHistory {
  /** Failed starts in a row before this one; 0 after a served call. */
  readonly failuresInARow: number;
  /** Whether any process of the slot was seen listening. */
  readonly hasListened: boolean;
  /** Whether a command waits for this slot to listen, and so may be given up on. */
  readonly commandWaits: boolean;
}

/** Why a process counts as failed, in the words `funker dev` and `funker status` show. */
export interface ExitFailure {
  /** `exited with code 1`, `was killed by SIGKILL`, `exited without serving a call`. */
  readonly how: string;
  /** What the exit means, when known: the fatal log line, or the handler's exit code explained. */
  readonly reason: string | undefined;
  /** `start_failed` for the handler's start-up failure, `crashed` otherwise. */
  readonly code: "start_failed" | "crashed";
}

export type RestartDecision =
  /**
   * The normal end of a single-shot replica (or of a reuse one after
   * maxCalls), or a replica that recycled itself because work of its function
   * outlived its drain timeout: replace it at once.
   */
  | { readonly action: "restart-now"; readonly failuresInARow: 0 }
  /** A failure: back off, doubling; or, for a replica that had started, wait the deployment's delay. */
  | { readonly action: "restart-later"; readonly delayMs: number; readonly failuresInARow: number; readonly failure: ExitFailure }
  /** A failure of a slot that never listened, too many in a row while a command waits. */
  | { readonly action: "give-up"; readonly failuresInARow: number; readonly failure: ExitFailure; readonly reason: string };

export function decideRestart(exit: ProcessExit, history: RestartHistory, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  if (exit.service !== true && ((exit.code === HandlerExit.done && exit.callsServed > 0) || exit.code === HandlerExit.recycled)) {
    return { action: "restart-now", failuresInARow: 0 };
  }
  const failure = describeFailure(exit);
  if (exit.service !== true && exit.listened === true && exit.restartDelayMs !== undefined) {
    // As Swarm would: a replica killed or crashed after it started is replaced after the mode's delay,
    // with no back-off, so a crash loop of a function that starts does not starve its callers.
    return { action: "restart-later", delayMs: exit.restartDelayMs, failuresInARow: 1, failure };
  }
  const before = exit.upMs >= policy.healthyAfterMs ? 0 : history.failuresInARow;
  const failuresInARow = before + 1;
  if (history.commandWaits && !history.hasListened && failuresInARow >= policy.failuresBeforeGivingUp) {
    return { action: "give-up", failuresInARow, failure, reason: `failed to start ${failuresInARow} times in a row` };
  }
  const delayMs = Math.min(policy.initialDelayMs * 2 ** before, policy.maxDelayMs);
  return { action: "restart-later", delayMs, failuresInARow, failure };
}

function describeFailure(exit: ProcessExit): ExitFailure {
  if (exit.service === true) {
    return { how: exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`, reason: undefined, code: "crashed" };
  }
  const how =
    exit.signal !== null ? `was killed by ${exit.signal}` : exit.code === HandlerExit.done ? "exited without serving a call" : `exited with code ${exit.code}`;
  return {
    how,
    reason: exit.fatalMessage ?? (exit.code === HandlerExit.done && exit.listened !== true ? NO_HANDLER : describeHandlerExit(exit.code)),
    code: exit.code === HandlerExit.startupFailed ? "start_failed" : "crashed",
  };
}

/**
 * A function's process that ends well without ever listening has run its
 * entry file to the end: the handler, which keeps the process up while it
 * listens, was never started.
 */
const NO_HANDLER = "the entry file did not start a handler: does it call `handler(fn)`?";

/** The handler's exit codes (its contract's `ExitCode`), in words. */
function describeHandlerExit(code: number | null): string | undefined {
  if (code === HandlerExit.startupFailed) return "the function could not start";
  if (code === HandlerExit.uncaughtFault) return "the function crashed";
  return undefined;
}
