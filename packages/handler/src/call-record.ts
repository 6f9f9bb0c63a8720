import type { WireError, WireMode } from "@funker/protocol";

/** One line of the call log, and one update of the server's state. */
export interface CallRecord {
  id: string;
  functionName: string | undefined;
  protocol: WireMode | undefined;
  durationMs: number;
  /** Undefined for a successful call. */
  error: WireError | undefined;
  /** True when the call held a slot (it counts as served). */
  served: boolean;
}
