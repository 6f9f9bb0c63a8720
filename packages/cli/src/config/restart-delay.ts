import type { FunctionMode } from "./funker-yml.js";

/**
 * How long the deployment waits before it replaces a replica that ended, by
 * mode: `funker deploy` gives it to Swarm as the restart delay, and
 * `funker dev` waits as long after a replica that had started. A
 * single-shot replica ends after every call, so it is replaced at once
 * (Swarm's default 5 s would serve a call per 6 s); a reuse replica ends
 * only at its call limit or when it fails, and a fresh replica (its
 * processes come and go inside it) only when it fails: a crash loop of
 * either should not spin.
 */
export const RESTART_DELAY_MS: Readonly<Record<FunctionMode, number>> = {
  "single-shot": 0,
  reuse: 1_000,
  fresh: 1_000,
};
