import { describe, expect, test } from "vitest";
import { FunkerError, errorCodes } from "@funker/protocol";
import type { ErrorCode } from "@funker/protocol";
import { NOT_YET_DELIVERED, afterDelivery, backoffDelay, nextStep } from "./retry.js";
import type { RetryState } from "./retry.js";

const policy = { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 1_000 };
const delivered = (deliveries: number): RetryState => ({ delivered: true, deliveries });

function failure(code: ErrorCode, mayHaveRun: boolean): FunkerError {
  return new FunkerError(code, `${code} happened`, { mayHaveRun });
}

describe("nextStep", () => {
  // [code, may have run, idempotent, state before, expected step, expected deliveries after]
  const table: [ErrorCode, boolean, boolean, RetryState, "elsewhere" | "back-off" | "fail", number | undefined][] = [
    // Nothing ran: "always" codes move on, whatever the caller declared.
    ["unavailable", false, false, NOT_YET_DELIVERED, "elsewhere", 0],
    ["connection_failed", false, false, NOT_YET_DELIVERED, "elsewhere", 0],
    ["connection_failed", false, true, delivered(1), "elsewhere", 1],
    // Nothing ran, but another attempt cannot succeed.
    ["not_found", false, true, NOT_YET_DELIVERED, "fail", undefined],
    ["bad_arguments", false, true, NOT_YET_DELIVERED, "fail", undefined],
    ["payload_too_large", false, true, NOT_YET_DELIVERED, "fail", undefined],
    ["unauthenticated", false, true, NOT_YET_DELIVERED, "fail", undefined],
    // A handler's refused answer with a code that is retried only when idempotent: nothing ran, so no delivery counts.
    ["handler_crashed", false, false, NOT_YET_DELIVERED, "fail", undefined],
    // It may have run: only idempotent calls are tried again, up to maxAttempts deliveries.
    ["handler_crashed", true, false, NOT_YET_DELIVERED, "fail", undefined],
    ["handler_crashed", true, true, NOT_YET_DELIVERED, "back-off", 1],
    ["handler_crashed", true, true, delivered(1), "back-off", 2],
    ["handler_crashed", true, true, delivered(2), "fail", undefined],
    // Codes whose rule is "never" end an idempotent call too.
    ["handler_error", true, true, NOT_YET_DELIVERED, "fail", undefined],
    ["bad_result", true, true, NOT_YET_DELIVERED, "fail", undefined],
    ["deadline_exceeded", true, true, NOT_YET_DELIVERED, "fail", undefined],
    ["cancelled", true, true, NOT_YET_DELIVERED, "fail", undefined],
    ["protocol_error", true, true, NOT_YET_DELIVERED, "fail", undefined],
    ["internal", true, true, NOT_YET_DELIVERED, "fail", undefined],
    // A remote "always" code that may have run (the handler did not say refused) is a delivery.
    ["unavailable", true, true, NOT_YET_DELIVERED, "back-off", 1],
    ["unavailable", true, false, NOT_YET_DELIVERED, "fail", undefined],
  ];

  test.each(table)("%s (may have run: %s, idempotent: %s, after %o) → %s", (code, mayHaveRun, idempotent, state, expected, deliveriesAfter) => {
    const step = nextStep(failure(code, mayHaveRun), state, { idempotent, policy });
    expect(step.kind).toBe(expected);
    if (step.kind !== "fail") expect(step.state.deliveries).toBe(deliveriesAfter);
  });

  test("covers every code", () => {
    expect(new Set(table.map(([code]) => code))).toEqual(new Set(errorCodes));
  });

  test("a failure that did not run, after an earlier delivery, ends the call as may-have-run", () => {
    const step = nextStep(failure("not_found", false), delivered(1), { idempotent: true, policy });
    expect(step).toMatchObject({ kind: "fail", error: { code: "not_found", mayHaveRun: true } });
    const first = nextStep(failure("not_found", false), NOT_YET_DELIVERED, { idempotent: true, policy });
    expect(first).toMatchObject({ kind: "fail", error: { code: "not_found", mayHaveRun: false } });
  });

  test("maxAttempts of 1 never delivers twice", () => {
    expect(nextStep(failure("handler_crashed", true), NOT_YET_DELIVERED, { idempotent: true, policy: { ...policy, maxAttempts: 1 } }).kind).toBe("fail");
  });
});

describe("afterDelivery", () => {
  test("keeps the code, message, data and remote flag, and says the function may have run", () => {
    const error = new FunkerError("unavailable", "busy", { mayHaveRun: false, remote: true, data: { n: 1 } });
    expect(afterDelivery(error)).toMatchObject({ code: "unavailable", message: "busy", mayHaveRun: true, remote: true, data: { n: 1 } });
    const already = failure("handler_error", true);
    expect(afterDelivery(already)).toBe(already);
  });
});

describe("backoffDelay", () => {
  test("is random below a ceiling that doubles from initialBackoffMs up to maxBackoffMs", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 6, 40].map((backoffs) => backoffDelay(policy, backoffs, () => 1));
    expect(ceilings).toEqual([50, 100, 200, 400, 800, 1_000, 1_000, 1_000]);
    expect(backoffDelay(policy, 3, () => 0)).toBe(0);
    expect(backoffDelay(policy, 3, () => 0.5)).toBe(200);
  });
});
