import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { failure as thrown } from "../test-support/failure.js";
import { MAX_JSON_DEPTH, decodeJson, encodeJson } from "@funker/protocol";
import { decodeUtf8, encodeUtf8, parseJson, stringifyJson } from "@funker/protocol/internal";

/** JSON has one zero: -0 is written as 0, so the round trip compares against that. */
function withoutNegativeZero(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function containsProtoKey(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some(containsProtoKey);
  if (Object.hasOwn(value, "__proto__")) return true;
  const constructorValue = (value as Record<string, unknown>)["constructor"];
  if (Object.hasOwn(value, "constructor") && typeof constructorValue === "object" && constructorValue !== null && Object.hasOwn(constructorValue, "prototype")) return true;
  return Object.values(value).some(containsProtoKey);
}

describe("encodeJson / decodeJson", () => {
  it("round-trips arbitrary JSON values (-0 reads back as 0)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(!containsProtoKey(value));
        expect(decodeJson(encodeJson(value))).toEqual(withoutNegativeZero(value));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses on decode every value that has a __proto__ or constructor.prototype key, at any depth", () => {
    const polluting = fc
      .tuple(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}'), fc.array(fc.constantFrom("array", "object"), { maxLength: 6 }))
      .map(([filler, dangerous, path]) =>
        path.reduce<string>((inner, kind) => (kind === "array" ? `[${JSON.stringify(filler)},${inner}]` : `{"a":${JSON.stringify(filler)},"b":${inner}}`), dangerous),
      );
    fc.assert(
      fc.property(polluting, (text) => {
        expect(thrown(() => parseJson(text)).code).toBe("protocol_error");
      }),
      { numRuns: 200 },
    );
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("x");
  });

  it("refuses dangerous keys spelled with \\u escapes (regression: the pre-check looked only for the plain spelling)", () => {
    for (const text of ['{"\\u005f_proto__":{"polluted":true}}', '{"a":[{"\\u0063onstructor":{"prototype":{"polluted":true}}}]}', '{"__pr\\u006fto__":{}}']) {
      expect(thrown(() => parseJson(text)).code, text).toBe("protocol_error");
    }
    expect(Object.prototype).not.toHaveProperty("polluted");
    expect(parseJson('{"caf\\u00e9":"\\u2713"}')).toEqual({ "café": "✓" });
  });

  it("keeps harmless keys that merely spell constructor", () => {
    expect(parseJson('{"constructor":"Point","nested":{"constructor":{"name":"x"}}}')).toEqual({ constructor: "Point", nested: { constructor: { name: "x" } } });
  });

  it("uses the code and the subject given by the caller", () => {
    const error = thrown(() => decodeJson(encodeUtf8("{"), "bad_arguments", "arguments"));
    expect(error.code).toBe("bad_arguments");
    expect(error.message).toMatch(/^the arguments are not valid JSON: /);
    expect(error.mayHaveRun).toBe(false);
  });

  it("calls an empty text empty, not malformed", () => {
    expect(thrown(() => decodeJson(new Uint8Array(0))).message).toBe("the payload is empty");
  });

  // Regression: messages said "the arguments is empty", "the arguments has a "__proto__" key".
  it("makes the verb agree with its subject: the arguments are, the result is", () => {
    expect(thrown(() => decodeJson(new Uint8Array(0), "bad_arguments", "arguments")).message).toBe("the arguments are empty");
    expect(thrown(() => parseJson('{"__proto__":{}}', "bad_arguments", "arguments")).message).toMatch(/^the arguments have a "__proto__" key/);
    expect(thrown(() => parseJson('{"constructor":{"prototype":{}}}', "bad_arguments", "arguments")).message).toMatch(/^the arguments have a "constructor.prototype" key/);
    expect(thrown(() => encodeJson(Number.NaN, "arguments")).message).toBe("the arguments are not valid JSON: the top-level value is NaN, which JSON cannot carry");
    expect(thrown(() => encodeJson(() => 1, "arguments")).message).toMatch(/^the arguments are not valid JSON: /);
    expect(thrown(() => decodeJson(new Uint8Array(0), "protocol_error", "result")).message).toBe("the result is empty");
    expect(thrown(() => parseJson('{"__proto__":{}}', "protocol_error", "result")).message).toMatch(/^the result has a "__proto__" key/);
    expect(thrown(() => encodeJson(Number.NaN, "result")).message).toBe("the result is not valid JSON: the top-level value is NaN, which JSON cannot carry");
  });

  it("turns undefined at the top level into null, as the 2017 implementations did", () => {
    expect(stringifyJson(undefined)).toBe("null");
    expect(decodeJson(encodeJson(undefined))).toBeNull();
  });

  it("drops undefined inside objects and writes null for it inside arrays, as JSON does", () => {
    expect(stringifyJson({ a: undefined, b: [undefined, 1] })).toBe('{"b":[null,1]}');
  });

  it.each([
    ["a BigInt", { count: 10n }, "count"],
    ["a function", { callback: () => 1 }, "callback"],
    ["a symbol", { tag: Symbol("tag") }, "tag"],
    ["a Map", { lookup: new Map([["a", 1]]) }, "lookup"],
    ["a Set", { members: new Set([1]) }, "members"],
    ["NaN", { ratio: Number.NaN }, "ratio"],
    ["Infinity", { limit: Number.POSITIVE_INFINITY }, "limit"],
    ["-Infinity", { floor: Number.NEGATIVE_INFINITY }, "floor"],
  ])("refuses %s as arguments (bad_arguments) and as a result (bad_result), and names its key", (_what, value, key) => {
    const asArguments = thrown(() => encodeJson(value, "arguments"));
    expect(asArguments).toMatchObject({ code: "bad_arguments", mayHaveRun: false });
    expect(asArguments.message).toContain(`"${key}"`);
    // The function ran to produce it: the result is its doing, not the caller's.
    const asResult = thrown(() => encodeJson(value, "result"));
    expect(asResult).toMatchObject({ code: "bad_result", mayHaveRun: true });
    expect(asResult.message).toMatch(new RegExp(`^the result is not valid JSON: the value at key "${key}" is `));
  });

  it("refuses a lossy value nested deeper than plain values are checked, and inside arrays", () => {
    let deep: unknown = { ratio: Number.NaN };
    for (let level = 0; level < 100; level += 1) deep = { level: deep };
    expect(thrown(() => encodeJson(deep)).message).toContain('"ratio"');
    expect(thrown(() => encodeJson([[1, new Map()]])).code).toBe("bad_arguments");
    expect(thrown(() => encodeJson({ list: [{ big: 1n }] })).message).toContain('"big"');
  });

  it("encodes what is not plain data exactly as JSON.stringify does: toJSON, class instances, null prototypes, deep nesting", () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    let deep: unknown = [1];
    for (let level = 0; level < 100; level += 1) deep = { level: deep };
    for (const value of [new Date(0), { when: new Date(0) }, new Point(1, 2), [new Point(3, 4)], bare, { custom: { toJSON: () => "mine" } }, deep]) {
      expect(stringifyJson(value)).toBe(JSON.stringify(value));
    }
  });

  it("encodes small values into views that stay intact while later values are encoded", () => {
    const first = encodeJson({ n: 1 });
    const later = Array.from({ length: 2_000 }, (_, n) => encodeJson({ n }));
    expect(decodeJson(first)).toEqual({ n: 1 });
    expect(later.map((bytes) => (decodeJson(bytes) as { n: number }).n)).toEqual(later.map((_, n) => n));
  });

  it("bigint-message-names-no-key: a nested BigInt's error says where it is", () => {
    // JSON.stringify's own TypeError ("Do not know how to serialize a BigInt") names no key.
    expect(thrown(() => encodeJson({ outer: { deep: [1, 2n] } })).message).toContain('key "1"');
  });

  it("refuses a top-level value JSON cannot carry, and says it is the top-level value", () => {
    expect(thrown(() => encodeJson(() => 1)).message).toContain("top-level");
    expect(thrown(() => encodeJson(5n)).message).toContain("top-level");
  });

  it("refuses cycles with bad_arguments, naming the property that closes the circle", () => {
    const value: Record<string, unknown> = { name: "loop" };
    value["self"] = value;
    const error = thrown(() => encodeJson(value, "arguments"));
    expect(error.code).toBe("bad_arguments");
    expect(error.message).toContain("arguments");
    expect(error.message).toContain("self");
  });

  it("decodes a text nested MAX_JSON_DEPTH deep and refuses one a level deeper, with the limit in the error", () => {
    const nested = (depth: number): string => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    let value = decodeJson(encodeUtf8(nested(MAX_JSON_DEPTH)));
    let levels = 0;
    while (Array.isArray(value) && value.length > 0) {
      value = value[0];
      levels += 1;
    }
    expect(levels).toBe(MAX_JSON_DEPTH - 1);
    const error = thrown(() => decodeJson(encodeUtf8(nested(MAX_JSON_DEPTH + 1)), "bad_arguments", "arguments"));
    expect(error).toMatchObject({ code: "bad_arguments", mayHaveRun: false, data: { limit: MAX_JSON_DEPTH }, message: "the arguments are nested more than 1000 arrays or objects deep, the limit" });
    expect(thrown(() => decodeJson(encodeUtf8(`{"a":${nested(MAX_JSON_DEPTH)}}`))).code).toBe("protocol_error");
  });

  it("refuses a text nested 1e6 deep before parsing it, closed or not", () => {
    const depth = 1_000_000;
    for (const text of [`${"[".repeat(depth)}${"]".repeat(depth)}`, "[".repeat(depth), `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`]) {
      expect(thrown(() => parseJson(text, "bad_arguments", "arguments")).message).toContain("nested more than 1000");
    }
  });

  it("counts no bracket inside a string, escaped quotes included", () => {
    const brackets = "[{".repeat(MAX_JSON_DEPTH);
    const text = JSON.stringify({ text: brackets, quoted: `\\"${brackets}"${brackets}` });
    expect(decodeJson(encodeUtf8(text))).toEqual(JSON.parse(text));
    // One more level than allowed, after a string that ends in an escaped backslash.
    const deeper = `["\\\\",${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH + 1)}`;
    expect(thrown(() => parseJson(deeper)).message).toContain("nested more than 1000");
  });

  it("refuses to encode what a receiver would refuse for its depth, arguments and result alike", () => {
    let value: unknown = 1;
    for (let level = 0; level < MAX_JSON_DEPTH + 1; level += 1) value = { level: value };
    expect(thrown(() => encodeJson(value, "arguments"))).toMatchObject({ code: "bad_arguments", mayHaveRun: false, data: { limit: MAX_JSON_DEPTH } });
    expect(thrown(() => encodeJson(value, "result")).code).toBe("bad_result");
    let atLimit: unknown = 1;
    for (let level = 0; level < MAX_JSON_DEPTH; level += 1) atLimit = [atLimit];
    expect(decodeJson(encodeJson(atLimit))).toEqual(atLimit);
  });

  it("scans a text at the depth limit that spells constructor", () => {
    const text = `${"[".repeat(MAX_JSON_DEPTH)}"constructor"${"]".repeat(MAX_JSON_DEPTH)}`;
    expect(() => decodeJson(encodeUtf8(text))).not.toThrow();
  });

  it("too-deep-encode-message: encoding a result nested deeper than the stack gives a clear bad_result error", () => {
    let value: unknown[] = [];
    for (let level = 0; level < 1_000_000; level += 1) value = [value];
    const error = thrown(() => encodeJson(value, "result"));
    expect(error.code).toBe("bad_result");
    expect(error.message).toContain("nested too deeply");
  });
});

describe("encodeJson with a size limit", () => {
  it("refuses only texts longer than the limit, early or exactly, and keeps every text within it whole", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 1, max: 200 }), (value, limit) => {
        fc.pre(!containsProtoKey(value));
        const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
        if (bytes <= limit) expect(decodeJson(encodeJson(value, "arguments", limit))).toEqual(withoutNegativeZero(value));
        else expect(thrown(() => encodeJson(value, "arguments", limit))).toMatchObject({ code: "payload_too_large", mayHaveRun: false });
      }),
      { numRuns: 500 },
    );
  });

  it("never counts what JSON does not write: keys whose value is undefined, array indices", () => {
    expect(stringifyJson({ [`a${"b".repeat(100)}`]: undefined, list: [1, 2, 3] }, "arguments", 16)).toBe('{"list":[1,2,3]}');
    expect(stringifyJson([new Date(0), { [`a${"b".repeat(100)}`]: undefined }], "arguments", 30)).toBe('["1970-01-01T00:00:00.000Z",{}]');
  });

  it("stops at the first member that passes the limit: a later member's toJSON never runs, on either path", () => {
    const big = "x".repeat(9 * 1024 * 1024);
    for (const first of [1, new Date(0)]) {
      let laterEncoded = false;
      const value = { first, big, later: { toJSON: () => (laterEncoded = true) } };
      const error = thrown(() => encodeJson(value, "arguments", 8 * 1024 * 1024));
      expect(error).toMatchObject({ code: "payload_too_large", mayHaveRun: false, data: { limit: 8 * 1024 * 1024 } });
      expect((error.data as { atLeast: number }).atLeast).toBeGreaterThan(9 * 1024 * 1024);
      expect(laterEncoded).toBe(false);
    }
  });

  it("calls a text too long for a JavaScript string payload_too_large, with or without a limit, never nested too deeply", () => {
    const huge = { toJSON: () => { throw new RangeError("Invalid string length"); } };
    for (const what of ["arguments", "result"]) {
      const error = thrown(() => encodeJson({ huge }, what));
      expect(error).toMatchObject({ code: "payload_too_large", mayHaveRun: false, message: `${what === "result" ? "the result is" : "the arguments are"} longer than a JavaScript string can hold` });
      expect(error.cause).toBeInstanceOf(RangeError);
    }
    expect(thrown(() => encodeJson({ huge }, "arguments", 1024)).message).toBe("the arguments are longer than a JavaScript string can hold; the limit is 1024");
  });
});

describe("UTF-8", () => {
  it("refuses invalid bytes instead of replacing them", () => {
    for (const bytes of [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80]]) {
      const error = thrown(() => decodeUtf8(Uint8Array.from(bytes)));
      expect(error.code).toBe("protocol_error");
    }
  });

  it("strips a leading byte order mark", () => {
    expect(decodeUtf8(Uint8Array.of(0xef, 0xbb, 0xbf, 0x31))).toBe("1");
    expect(decodeJson(Uint8Array.of(0xef, 0xbb, 0xbf, ...encodeUtf8('{"a":"é"}')))).toEqual({ a: "é" });
  });

  it("round-trips any string, astral characters included", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (text) => {
        expect(decodeUtf8(encodeUtf8(text))).toBe(text.startsWith("\uFEFF") ? text.slice(1) : text);
      }),
      { numRuns: 200 },
    );
  });
});
