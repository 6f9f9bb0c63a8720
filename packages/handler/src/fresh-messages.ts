import type { WireMode } from "@funker/protocol";

/**
 * What a fresh-mode supervisor and its processes say to each other. A process
 * is forked with Node's IPC channel on descriptor 3 (small JSON messages,
 * below) and a pipe on descriptor 4 that carries its one call's bytes: the
 * supervisor accepts the caller's TCP connection and copies the bytes both
 * ways, so the process serves the call with the handler's own connection
 * code, exactly as a replica would serve it on TCP.
 */

/** The process's descriptor of its call pipe: after stdin, stdout, stderr and the IPC channel. */
export const CALL_PIPE_FD = 4;

/**
 * Marks a process the supervisor forked, with the supervisor's bound address
 * as JSON (`{"host":…,"port":…}`), which the process's `server.ready` gives.
 * Removed from the environment before the function runs.
 */
export const FRESH_CHILD_VARIABLE = "FUNKER_FRESH_CHILD";

/** Supervisor → process: the call pipe now carries a caller's bytes, handed over at `acceptedAt` (epoch ms; the timeout counts from there). */
export interface CallMessage {
  readonly type: "call";
  readonly acceptedAt: number;
}

/** Supervisor → process: the caller's connection closed before the reply (the pipe cannot say whether it was reset). */
export interface GoneMessage {
  readonly type: "gone";
}

/**
 * Supervisor → process, once it waits: nothing to do. Code that has run once
 * is compiled, so the call's own message then costs the process less (about
 * a p50 0.9× of one without, in an A/B of nine rounds).
 */
export interface WarmUpMessage {
  readonly type: "warm-up";
}

export type ToProcess = CallMessage | GoneMessage | WarmUpMessage;

/** Process → supervisor: the module is loaded and the process waits for a call. */
export interface ReadyMessage {
  readonly type: "ready";
}

/**
 * Process → supervisor: the call was read and is about to run. What the
 * supervisor needs to answer the caller itself if the process dies or
 * overruns: its id and wire mode, and the caller's deadline (null: none).
 */
export interface StartedMessage {
  readonly type: "started";
  readonly id: string;
  readonly functionName: string | undefined;
  readonly protocol: WireMode;
  readonly deadline: number | null;
}

/** Process → supervisor: the reply (or a typed error) was written and logged; the supervisor must not answer or log the call. */
export interface RepliedMessage {
  readonly type: "replied";
  readonly served: boolean;
  readonly errorCode: string | undefined;
  readonly errorMessage: string | undefined;
}

export type FromProcess = ReadyMessage | StartedMessage | RepliedMessage;

/** The supervisor's address as the process's environment carries it. */
export interface SupervisorAddress {
  readonly host: string;
  readonly port: number;
}

/** Reads `FRESH_CHILD_VARIABLE`; undefined when this process is not a fresh-mode process. */
export function freshChildAddress(environment: Readonly<Record<string, string | undefined>>): SupervisorAddress | undefined {
  const text = environment[FRESH_CHILD_VARIABLE];
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<SupervisorAddress>;
    if (typeof value.host === "string" && typeof value.port === "number") return { host: value.host, port: value.port };
  } catch {
    // Not ours: a variable set by hand is ignored, and the process serves as its mode says.
  }
  return undefined;
}

/** Whether an IPC message is one of the process's, with the fields the supervisor reads. */
export function isFromProcess(message: unknown): message is FromProcess {
  if (typeof message !== "object" || message === null) return false;
  const type = (message as { type?: unknown }).type;
  return type === "ready" || type === "started" || type === "replied";
}

/**
 * How long a process may go on after its reply (timers, work the function
 * left running) before it is made to exit: `drainTimeout`, which is the
 * call's own time limit unless set, so a function gets as long to wind down
 * as it had to run. The process exits by itself at that point; its
 * supervisor kills it if it cannot.
 */
export function drainBudgetMs(options: { readonly drainTimeoutMs: number }): number {
  return options.drainTimeoutMs;
}
