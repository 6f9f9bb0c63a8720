/**
 * Exit codes of `funker`, documented in its README and `--help`: one map for
 * every command. `funker dev -- <command>` exits with the command's own code
 * instead (128 + the signal's number when it was killed).
 */
export const ExitCode = {
  ok: 0,
  /** A call failed, a function failed to build or to start, or Docker failed. */
  failed: 1,
  /** The command line or funker.yml is wrong. */
  usage: 2,
  /** No running `funker dev` was found for a command that needs one. */
  noRuntime: 3,
  /** `funker dev` stopped by SIGINT (Ctrl-C): 128 + 2, as a shell reports it. */
  interrupted: 130,
  /** `funker dev` stopped by SIGTERM or SIGHUP: 128 + 15. */
  terminated: 143,
} as const;

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** A child's exit as a shell reports it: its code, or 128 + the signal's number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  return code ?? 128 + (signal === null ? 0 : (SIGNAL_NUMBERS[signal] ?? 0));
}
