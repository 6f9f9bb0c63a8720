import { describe, expectTypeOf, it } from "vitest";
import type { HandlerOptions } from "@funker/handler";
import type { SettingName } from "@funker/handler/contract";

// Type tests only: nothing here runs.
describe("contract types", () => {
  it("gives every row of the settings table an option of handler()", () => {
    expectTypeOf<Exclude<SettingName, keyof HandlerOptions>>().toEqualTypeOf<never>();
  });
});
