import { describe, expect, it } from "vitest";
import { decideRestart, DEFAULT_RESTART_POLICY } from "./restart-policy.js";
import type { ProcessExit, RestartDecision, RestartHistory } from "./restart-policy.js";

const served: ProcessExit = { code: 0, signal: null, callsServed: 1, upMs: 40 };
const startFailed: ProcessExit = { code: 1, signal: null, callsServed: 0, upMs: 210 };
const fresh: RestartHistory = { failuresInARow: 0, hasListened: false, commandWaits: false };

describe("the restart policy of funker dev", () => {
  it.each<[string, ProcessExit, RestartHistory, Partial<RestartDecision>]>([
    ["a single-shot replica that served its call: at once, history cleared", served, { ...fresh, failuresInARow: 3 }, { action: "restart-now", failuresInARow: 0 }],
    ["a reuse replica that served many calls, then exited 0", { ...served, callsServed: 1000, upMs: 60_000 }, fresh, { action: "restart-now" }],
    [
      "a replica that recycled itself (75: its function's work outlived the drain timeout): at once, as a normal end",
      { ...served, code: 75, listened: true, restartDelayMs: 1_000 },
      { ...fresh, failuresInARow: 2 },
      { action: "restart-now", failuresInARow: 0 },
    ],
    ["a first failure: 100 ms", startFailed, fresh, { action: "restart-later", delayMs: 100, failuresInARow: 1 }],
    ["a second failure in a row: 200 ms", startFailed, { ...fresh, failuresInARow: 1 }, { action: "restart-later", delayMs: 200, failuresInARow: 2 }],
    ["a fifth failure without a waiting command: 1.6 s", startFailed, { ...fresh, failuresInARow: 4 }, { action: "restart-later", delayMs: 1_600, failuresInARow: 5 }],
    ["the eighth: 12.8 s capped at 10 s", startFailed, { ...fresh, failuresInARow: 7 }, { action: "restart-later", delayMs: 10_000, failuresInARow: 8 }],
    ["the hundredth: still 10 s", startFailed, { ...fresh, failuresInARow: 99 }, { action: "restart-later", delayMs: 10_000, failuresInARow: 100 }],
    [
      "a failure after 10 s up: healthy before, so the back-off starts anew",
      { ...startFailed, code: 70, upMs: 10_000 },
      { ...fresh, failuresInARow: 6 },
      { action: "restart-later", delayMs: 100, failuresInARow: 1 },
    ],
    [
      "a failure just under 10 s up: the back-off goes on",
      { ...startFailed, code: 70, upMs: 9_999 },
      { ...fresh, failuresInARow: 2 },
      { action: "restart-later", delayMs: 400, failuresInARow: 3 },
    ],
    ["an exit 0 without a call is a failure", { ...served, callsServed: 0 }, fresh, { action: "restart-later", delayMs: 100, failuresInARow: 1 }],
    ["a non-zero exit after serving calls is a failure", { ...served, code: 70 }, fresh, { action: "restart-later", delayMs: 100, failuresInARow: 1 }],
    ["a kill is a failure", { code: null, signal: "SIGKILL", callsServed: 1, upMs: 500 }, fresh, { action: "restart-later", delayMs: 100 }],
    [
      "a single-shot replica killed after it started: at once, as Swarm with delay 0, however many kills came before",
      { code: null, signal: "SIGKILL", callsServed: 0, upMs: 600, listened: true, restartDelayMs: 0 },
      { failuresInARow: 40, hasListened: true, commandWaits: true },
      { action: "restart-later", delayMs: 0, failuresInARow: 1 },
    ],
    [
      "a reuse replica that crashed after it started: the deployment's 1 s, no back-off",
      { code: 70, signal: null, callsServed: 3, upMs: 800, listened: true, restartDelayMs: 1_000 },
      { failuresInARow: 9, hasListened: true, commandWaits: false },
      { action: "restart-later", delayMs: 1_000, failuresInARow: 1 },
    ],
    [
      "a replica that never listened backs off still, even with a deployment delay of 0",
      { ...startFailed, listened: false, restartDelayMs: 0 },
      { ...fresh, failuresInARow: 3 },
      { action: "restart-later", delayMs: 800, failuresInARow: 4 },
    ],
    [
      "a service that had started backs off as before: it has no deployment delay here",
      { code: 1, signal: null, callsServed: 0, upMs: 500, service: true, listened: true },
      { ...fresh, failuresInARow: 2 },
      { action: "restart-later", delayMs: 400, failuresInARow: 3 },
    ],
    ["a service that exits 0 has failed: services run until stopped", { ...served, callsServed: 0, service: true }, fresh, { action: "restart-later", delayMs: 100, failuresInARow: 1 }],
    [
      "the fifth failure of a slot that never listened, while a command waits: give up",
      startFailed,
      { failuresInARow: 4, hasListened: false, commandWaits: true },
      { action: "give-up", failuresInARow: 5, reason: "failed to start 5 times in a row" },
    ],
    [
      "the fourth failure while a command waits: not yet",
      startFailed,
      { failuresInARow: 3, hasListened: false, commandWaits: true },
      { action: "restart-later", delayMs: 800, failuresInARow: 4 },
    ],
    [
      "the fifth failure of a slot that listened once, while a command waits: restart",
      startFailed,
      { failuresInARow: 4, hasListened: true, commandWaits: true },
      { action: "restart-later", delayMs: 1_600, failuresInARow: 5 },
    ],
  ])("%s", (_case, exit, history, expected) => {
    expect(decideRestart(exit, history)).toMatchObject(expected);
  });

  it.each<[string, ProcessExit, { how: string; reason: string | undefined; code: string }]>([
    ["the handler's start-up failure", startFailed, { how: "exited with code 1", reason: "the function could not start", code: "start_failed" }],
    ["the handler's uncaught fault", { ...startFailed, code: 70 }, { how: "exited with code 70", reason: "the function crashed", code: "crashed" }],
    ["another exit code", { ...startFailed, code: 3 }, { how: "exited with code 3", reason: undefined, code: "crashed" }],
    [
      "an exit 0 of a process never seen listening: no handler was started",
      { ...startFailed, code: 0 },
      { how: "exited without serving a call", reason: "the entry file did not start a handler: does it call `handler(fn)`?", code: "crashed" },
    ],
    ["an exit 0 without a call after listening", { ...startFailed, code: 0, listened: true }, { how: "exited without serving a call", reason: undefined, code: "crashed" }],
    ["a signal", { ...startFailed, code: null, signal: "SIGKILL" }, { how: "was killed by SIGKILL", reason: undefined, code: "crashed" }],
    ["a service's exit 0, in its own words", { ...startFailed, code: 0, service: true }, { how: "exited with code 0", reason: undefined, code: "crashed" }],
    ["a service's exit 1, which is not the handler's start-up failure", { ...startFailed, service: true }, { how: "exited with code 1", reason: undefined, code: "crashed" }],
    [
      "the process's own fatal line, before the exit code's meaning",
      { ...startFailed, fatalMessage: "cannot listen on 127.0.0.1:7001: listen EADDRINUSE" },
      { how: "exited with code 1", reason: "cannot listen on 127.0.0.1:7001: listen EADDRINUSE", code: "start_failed" },
    ],
  ])("explains %s", (_case, exit, failure) => {
    const decision = decideRestart(exit, fresh);
    expect(decision.action === "restart-now" ? undefined : decision.failure).toEqual(failure);
  });

  it("takes other numbers as a policy", () => {
    const policy = { ...DEFAULT_RESTART_POLICY, initialDelayMs: 1_000, maxDelayMs: 3_000, failuresBeforeGivingUp: 2 };
    expect(decideRestart(startFailed, { ...fresh, failuresInARow: 1 }, policy)).toMatchObject({ action: "restart-later", delayMs: 2_000 });
    expect(decideRestart(startFailed, { ...fresh, failuresInARow: 5 }, policy)).toMatchObject({ action: "restart-later", delayMs: 3_000 });
    expect(decideRestart(startFailed, { failuresInARow: 1, hasListened: false, commandWaits: true }, policy)).toMatchObject({ action: "give-up" });
  });
});
