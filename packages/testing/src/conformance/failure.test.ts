import { describe, expect, it } from "vitest";
import { FunkerError } from "@funker/protocol";
import { describeBytes, describeError, failureMessage } from "./failure.js";

describe("failure messages", () => {
  it("say what was expected, what came instead, and the likely cause when one is known", () => {
    expect(failureMessage({ expected: "the RESULT 3", instead: "the RESULT 4", cause: "the function adds wrong" })).toBe(
      "expected the RESULT 3; instead the RESULT 4. Likely cause: the function adds wrong.",
    );
    expect(failureMessage({ expected: "the RESULT 3", instead: "no frame" })).toBe("expected the RESULT 3; instead no frame.");
    // A cause that asks a question keeps its question mark.
    expect(failureMessage({ expected: "a", instead: "b", cause: "is it in seconds?" })).toBe("expected a; instead b. Likely cause: is it in seconds?");
  });

  it("show bytes in hex, and as text when they are printable", () => {
    expect(describeBytes(new Uint8Array())).toBe("0 bytes");
    expect(describeBytes(new TextEncoder().encode("3"))).toBe('1 byte (33, as text "3")');
    expect(describeBytes(Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x05))).toBe("5 bytes (02 00 00 00 05)");
  });

  it("show only the first 24 bytes of many", () => {
    const text = '{"funkerError":{"code":"handler_error"}}';
    expect(describeBytes(new TextEncoder().encode(text))).toBe(
      `40 bytes (7b 22 66 75 6e 6b 65 72 45 72 72 6f 72 22 3a 7b 22 63 6f 64 65 22 3a 22 …, as text ${JSON.stringify(text.slice(0, 24))} …)`,
    );
  });

  it("keep UTF-8 text cut inside a character as text", () => {
    // 23 ASCII bytes, then "é" (c3 a9): the cut at 24 bytes falls inside it.
    const bytes = new TextEncoder().encode(`${"a".repeat(23)}é and more`);
    expect(describeBytes(bytes)).toMatch(/c3 …, as text "a{23}" …\)$/);
  });

  it("name a FunkerError by its code", () => {
    expect(describeError(new FunkerError("protocol_error", "unknown frame type 0x7b"))).toBe("protocol_error: unknown frame type 0x7b");
    expect(describeError(new Error("plain"))).toBe("plain");
    expect(describeError("thrown text")).toBe("thrown text");
  });
});
