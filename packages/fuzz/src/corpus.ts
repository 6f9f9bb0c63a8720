/**
 * What the fuzz mutates: the golden vectors of `@funker/protocol` (every
 * frame a caller sends, in both versions, and the frames a caller should
 * never send), the 2017 request bodies, and calls written afresh with a
 * deadline far ahead so that they reach the function. Each seed is kept as
 * its parts (the preface, then one frame each) so that mutations can cut,
 * repeat and reorder at frame boundaries.
 */
import { createRequire } from "node:module";
import { prefaceFor } from "@funker/protocol";
import type { ProtocolVersion } from "@funker/protocol";
import { writeCallFrame } from "@funker/protocol/internal";

interface VectorFrame {
  readonly name: string;
  readonly hex: string;
}

interface Vectors {
  readonly versions: Record<string, { frames: VectorFrame[]; exchanges: { name: string; callerToHandler: string }[]; negative: { name: string; hex: string; expectPreface: boolean }[] }>;
  readonly legacy: { name: string; direction: string; hex: string }[];
}

const vectors = createRequire(import.meta.url)("@funker/protocol/test-vectors/vectors.json") as Vectors;

/** A stream as a caller would write it: framed (a preface, then frames), a 2017 body, or bytes of no shape. */
export interface Seed {
  readonly name: string;
  readonly wire: "framed" | "legacy" | "raw";
  /** The protocol version of a framed seed's frames. */
  readonly version?: ProtocolVersion;
  /** Framed: the preface, then one frame per part. Legacy and raw: one part. */
  readonly parts: readonly Uint8Array[];
}

/** The year 2100: the vectors' own deadline (2026-01-01) has passed, and a call past its deadline is refused before it runs. */
export const FAR_DEADLINE = 4_102_444_800_000;

export const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, "hex"));
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const concat = (parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

const VERSIONS: readonly ProtocolVersion[] = [1, 2];

/** Every frame of both versions' vectors, by version: the frames a mutation may splice in. */
export const vectorFrames: ReadonlyMap<ProtocolVersion, readonly VectorFrame[]> = new Map(VERSIONS.map((version) => [version, vectors.versions[String(version)]?.frames ?? []]));

/** A call to the replica's function with `body` as its arguments, written as is (not checked, not re-encoded). */
export function callFrame(version: ProtocolVersion, body: Uint8Array, id = "fuzz-1"): Uint8Array {
  return writeCallFrame({ id, function: "add", deadline: FAR_DEADLINE }, body, version);
}

function framedSeeds(version: ProtocolVersion): Seed[] {
  const frames = new Map((vectorFrames.get(version) ?? []).map((frame) => [frame.name, hex(frame.hex)]));
  const preface = prefaceFor(version);
  const frame = (name: string): Uint8Array => {
    const bytes = frames.get(name);
    if (bytes === undefined) throw new Error(`the version ${version} vectors have no frame ${name}`);
    return bytes;
  };
  const seed = (name: string, parts: Uint8Array[]): Seed => ({ name: `v${version} ${name}`, wire: "framed", version, parts: [preface, ...parts] });
  const add = callFrame(version, utf8('{"x":1,"y":2}'));
  const seeds = [
    seed("add", [add]),
    seed("add, then cancel", [add, frame("cancel-with-reason")]),
    seed("extension, then add", [frame("extension-0x80"), add]),
    seed("call-full (past deadline)", [frame("call-full")]),
    seed("call-minimal (past deadline)", [frame("call-minimal")]),
    seed("call-no-arguments (past deadline)", [frame("call-no-arguments")]),
    seed("heartbeat", [frame("heartbeat")]),
    seed("result sent to a handler", [frame("result")]),
    seed("error sent to a handler", [frame("error-with-causes")]),
    seed("preface alone", []),
  ];
  if (version === 2) seeds.push(seed("hello sent to a handler", [frame("hello")]));
  for (const exchange of vectors.versions[String(version)]?.exchanges ?? []) {
    seeds.push({ name: `v${version} exchange ${exchange.name}`, wire: "raw", parts: [hex(exchange.callerToHandler)] });
  }
  for (const negative of vectors.versions[String(version)]?.negative ?? []) {
    if (negative.expectPreface) seeds.push({ name: `v${version} negative ${negative.name}`, wire: "raw", parts: [hex(negative.hex)] });
  }
  return seeds;
}

function legacySeeds(): Seed[] {
  const requests = vectors.legacy.filter((vector) => vector.direction === "caller-to-handler").map((vector) => hex(vector.hex));
  // What the 2017 callers sent: Node and Go any JSON value, Python an object of keyword arguments ({} for none).
  const bodies = [...requests, utf8("{}"), utf8('{"x":1,"y":2}'), utf8("[1,2]"), utf8('"text"'), utf8("null"), utf8('{"x":1.5e3,"y":-2}')];
  return bodies.flatMap((body, index) => [
    { name: `legacy body ${index}`, wire: "legacy", parts: [body] },
    { name: `legacy body ${index}, marked`, wire: "legacy", parts: [concat([Uint8Array.of(0x09, 0x20, 0x09), body])] },
  ]);
}

export const SEEDS: readonly Seed[] = [...framedSeeds(1), ...framedSeeds(2), ...legacySeeds()];

const repeat = (text: string, times: number): string => text.repeat(times);

/**
 * JSON texts at the edges: deep nesting (parsed without recursion, encoded
 * back only up to a depth), prototype keys (refused), numbers beyond a
 * double, invalid UTF-8 (refused, never replaced), lone surrogates (valid
 * JSON escapes), byte order marks, and texts that are not JSON at all.
 */
const EDGES: readonly { readonly name: string; readonly bytes: () => Uint8Array }[] = [
  { name: "nested arrays, 1,000 deep", bytes: () => utf8(repeat("[", 1_000) + repeat("]", 1_000)) },
  { name: "nested arrays, 100,000 deep", bytes: () => utf8(repeat("[", 100_000) + repeat("]", 100_000)) },
  // V8 parses these without recursion, but not fast: about 2 µs a level on an idle core, so deeper would only slow the run.
  { name: "nested arrays, 200,000 deep", bytes: () => utf8(repeat("[", 200_000) + repeat("]", 200_000)) },
  { name: "nested objects, 50,000 deep", bytes: () => utf8(repeat('{"a":', 50_000) + "1" + repeat("}", 50_000)) },
  { name: "nested arrays, unclosed", bytes: () => utf8(repeat("[", 100_000)) },
  { name: "__proto__ key", bytes: () => utf8('{"__proto__":{"polluted":true}}') },
  { name: "__proto__ key, deep in an array", bytes: () => utf8('{"x":1,"y":[[{"__proto__":{"polluted":true}}]]}') },
  { name: "__proto__ key, escaped", bytes: () => utf8('{"\\u005f_proto__":{"polluted":true}}') },
  { name: "constructor.prototype", bytes: () => utf8('{"constructor":{"prototype":{"polluted":true}}}') },
  { name: "constructor, a string", bytes: () => utf8('{"constructor":"x","x":1,"y":2}') },
  { name: "numbers beyond a double", bytes: () => utf8('{"x":1e999,"y":-1e999}') },
  { name: "a sum beyond a double", bytes: () => utf8('{"x":1.7e308,"y":1.7e308}') },
  { name: "a 400-digit number", bytes: () => utf8(`{"x":${repeat("9", 400)},"y":1}`) },
  { name: "an integer beyond 2^53", bytes: () => utf8('{"x":9007199254740993,"y":1}') },
  { name: "a tiny number", bytes: () => utf8(`[0.${repeat("0", 2_000)}1,-0]`) },
  { name: "invalid UTF-8: a lone continuation byte", bytes: () => Uint8Array.of(0x22, 0x80, 0x22) },
  { name: "invalid UTF-8: 0xff", bytes: () => Uint8Array.of(0x7b, 0x22, 0x78, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d) },
  { name: "invalid UTF-8: an overlong slash", bytes: () => Uint8Array.of(0x22, 0xc0, 0xaf, 0x22) },
  { name: "invalid UTF-8: a truncated sequence", bytes: () => Uint8Array.of(0x22, 0xe2, 0x82, 0x22) },
  { name: "invalid UTF-8: an encoded surrogate", bytes: () => Uint8Array.of(0x22, 0xed, 0xa0, 0x80, 0x22) },
  { name: "lone surrogates, escaped", bytes: () => utf8('{"x":"\\ud800","y":"\\udc00"}') },
  { name: "a lone surrogate as a key", bytes: () => utf8('{"\\udfff":1}') },
  { name: "a byte order mark", bytes: () => utf8('\ufeff{"x":1,"y":2}') },
  { name: "two byte order marks", bytes: () => utf8('\ufeff\ufeff{"x":1,"y":2}') },
  { name: "a byte order mark alone", bytes: () => utf8("\ufeff") },
  { name: "empty", bytes: () => new Uint8Array(0) },
  { name: "whitespace only", bytes: () => utf8(" \t\r\n ") },
  { name: "a NUL inside a string", bytes: () => Uint8Array.of(0x22, 0x61, 0x00, 0x62, 0x22) },
  { name: "a trailing comma", bytes: () => utf8('{"x":1,"y":2,}') },
  { name: "two texts", bytes: () => utf8('{"x":1,"y":2}{"x":1,"y":2}') },
  { name: "duplicate keys", bytes: () => utf8('{"x":"a","x":1,"y":2}') },
  { name: "a toJSON key", bytes: () => utf8('{"toJSON":{"x":1}}') },
  { name: "20,000 keys", bytes: () => utf8(`{${Array.from({ length: 20_000 }, (_, index) => `"k${index}":${index}`).join(",")}}`) },
  { name: "a 1 MiB string", bytes: () => utf8(`"${repeat("a", 1_048_576)}"`) },
  { name: "NaN and Infinity", bytes: () => utf8("[NaN,Infinity,-Infinity]") },
  { name: "an unterminated string", bytes: () => utf8('{"x":"abc') },
];

/** The edges, each made once: the largest take tens of milliseconds to build. */
export const JSON_EDGES: readonly { readonly name: string; readonly bytes: () => Uint8Array }[] = EDGES.map(({ name, bytes }) => {
  let made: Uint8Array | undefined;
  return { name, bytes: () => (made ??= bytes()) };
});
