import { describe, expect, it } from "vitest";
import { SEEDS } from "./corpus.js";
import { MUTATIONS, boundaries, makeCase, warmUpCases } from "./mutate.js";

describe("the fuzz's cases", () => {
  it("are a function of the seed and the index alone", () => {
    for (const index of [0, 1, 99, 12_345]) expect(makeCase(5, index)).toEqual(makeCase(5, index));
    const hex = (seed: number) => Array.from({ length: 20 }, (_, index) => Buffer.from(makeCase(seed, index).bytes).toString("hex"));
    expect(hex(5)).not.toEqual(hex(6));
  });

  it("use every mutation, both ways of ending and every way of writing", () => {
    const cases = Array.from({ length: 2_000 }, (_, index) => makeCase(9, index));
    for (const mutation of MUTATIONS) expect(cases.some((testCase) => testCase.mutations.includes(mutation))).toBe(true);
    expect(new Set(cases.map((testCase) => testCase.halfClose))).toEqual(new Set([true, false]));
    expect(cases.some((testCase) => testCase.drip)).toBe(true);
    expect(cases.some((testCase) => !testCase.drip && testCase.chunks.length > 0)).toBe(true);
  });

  it("cut framed seeds inside the preface and after each frame's type and length", () => {
    const seed = SEEDS.find((candidate) => candidate.name === "v1 add");
    expect(seed).toBeDefined();
    // The preface's 8 bytes, then the CALL at 8: its type (9), payload length (13), header length (17), header end.
    expect(boundaries(seed!)).toEqual(expect.arrayContaining([0, 1, 7, 8, 9, 13, 17]));
  });

  it("warm up with every JSON edge in every place", () => {
    expect(warmUpCases().every((testCase) => testCase.halfClose)).toBe(true);
    expect(new Set(warmUpCases().map((testCase) => testCase.label)).size).toBe(warmUpCases().length);
  });
});
