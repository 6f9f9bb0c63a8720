import { startFunction } from "@funker/testing";
import { describe, expect, it } from "vitest";
import { slugify } from "./slugify.js";

describe("slugify", () => {
  it("drops accents and punctuation", () => {
    expect(slugify({ text: "Crème brûlée, 2 ways!" })).toBe("creme-brulee-2-ways");
  });

  it("keeps letters of any script", () => {
    expect(slugify({ text: "Привет, мир" })).toBe("привет-мир");
  });

  it("uses the separator and cuts at a word boundary", () => {
    expect(slugify({ text: "one two three", separator: "_", maxLength: 9 })).toBe("one_two");
  });

  it("answers a call over Funker's protocol", async () => {
    await using running = await startFunction(slugify, { name: "slugify" });
    expect(await running.call({ text: "Hello, World" })).toBe("hello-world");
  });

  it("reports a bad argument as the function's error", async () => {
    await using running = await startFunction(slugify, { name: "slugify" });
    await expect(running.call({ text: 42 } as never)).rejects.toMatchObject({ code: "handler_error", message: "text must be a string" });
  });
});
