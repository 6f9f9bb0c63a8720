import { expect } from "vitest";
import { FunkerError } from "@funker/protocol";

/** The FunkerError that `action` throws; fails the test when it throws nothing, or something else. */
export function failure(action: () => unknown): FunkerError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(FunkerError);
    return error as FunkerError;
  }
  throw new Error("expected a FunkerError, nothing was thrown");
}
