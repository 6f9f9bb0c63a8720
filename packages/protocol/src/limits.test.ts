import { describe, expect, it } from "vitest";
import { failure } from "../test-support/failure.js";
import { DEFAULT_MAX_PAYLOAD_BYTES, FrameDecoder, LegacyBodyCollector, MAX_PAYLOAD_BYTES_LIMIT, encodeCall, encodeLegacyRequest } from "@funker/protocol";
import { checkPayloadSize, resolveMaxPayloadBytes } from "@funker/protocol/internal";

describe("resolveMaxPayloadBytes: the one check of a payload limit", () => {
  it("gives the default when no limit is chosen, and any whole number from 1 to the highest", () => {
    expect(resolveMaxPayloadBytes(undefined)).toBe(DEFAULT_MAX_PAYLOAD_BYTES);
    for (const limit of [1, 1024, MAX_PAYLOAD_BYTES_LIMIT]) expect(resolveMaxPayloadBytes(limit)).toBe(limit);
  });

  it("refuses the same limits, with the same RangeError, wherever a limit is taken", () => {
    const message = `maxPayloadBytes must be an integer from 1 to ${MAX_PAYLOAD_BYTES_LIMIT}`;
    for (const limit of [0, -5, 2.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_PAYLOAD_BYTES_LIMIT + 1]) {
      expect(() => resolveMaxPayloadBytes(limit)).toThrow(new RangeError(message));
      expect(() => new FrameDecoder({ maxPayloadBytes: limit })).toThrow(new RangeError(message));
      expect(() => new LegacyBodyCollector(limit)).toThrow(new RangeError(message));
    }
  });
});

describe("checkPayloadSize: the one payload_too_large of a sender", () => {
  it("accepts exactly the limit", () => {
    expect(() => checkPayloadSize(10, 10, "arguments")).not.toThrow();
  });

  it("says what is too large, by how much, and that it was not sent", () => {
    const tooLarge = failure(() => checkPayloadSize(11, 10, "result"));
    expect(tooLarge).toMatchObject({ code: "payload_too_large", message: "the result is 11 bytes; the limit is 10", data: { size: 11, limit: 10 }, mayHaveRun: false });
  });

  it("is the error of both callers' encoders for arguments above the limit", () => {
    const args = "é".repeat(9); // 20 bytes of JSON, which its 9 characters alone do not tell
    const expected = { code: "payload_too_large", message: "the arguments are 20 bytes; the limit is 12", data: { size: 20, limit: 12 }, mayHaveRun: false };
    expect(failure(() => encodeLegacyRequest(args, 12))).toMatchObject(expected);
    expect(failure(() => encodeCall({ id: "c", function: "f", deadline: 0 }, args, { maxPayloadBytes: 12 }))).toMatchObject(expected);
    // Known too long from its characters: refused before the text is built.
    const early = { code: "payload_too_large", message: "the arguments are at least 20 bytes; the limit is 10", data: { atLeast: 20, limit: 10 }, mayHaveRun: false };
    expect(failure(() => encodeLegacyRequest("x".repeat(18), 10))).toMatchObject(early);
    expect(failure(() => encodeCall({ id: "c", function: "f", deadline: 0 }, "x".repeat(18), { maxPayloadBytes: 10 }))).toMatchObject(early);
  });
});
