/**
 * Makes case `index` of a run: a seed from the corpus, one or two
 * mutations, whether the caller half-closes, and how the bytes are written
 * (at once, in pieces, or dripped a few bytes at a time).
 */
import { prefaceFor } from "@funker/protocol";
import type { ProtocolVersion } from "@funker/protocol";
import { FAR_DEADLINE, JSON_EDGES, SEEDS, callFrame, concat, hex, utf8, vectorFrames } from "./corpus.js";
import type { Seed } from "./corpus.js";
import { Random, caseSeed } from "./random.js";

export const MUTATIONS = ["bit-flip", "truncation", "length", "frames", "random", "json"] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface FuzzCase {
  /** What was done, for a report and a kept case's name. */
  readonly label: string;
  readonly mutations: readonly Mutation[];
  readonly bytes: Uint8Array;
  /** Whether the caller half-closes after writing (a 2017 caller always does; a framed caller never should mid-call). */
  readonly halfClose: boolean;
  /** Sizes of the first writes, one at a time; the rest goes in one write. Empty: everything at once. */
  readonly chunks: readonly number[];
  /** Whether the writes wait a millisecond between them, so that each arrives in its own read. */
  readonly drip: boolean;
}

/** The payload length a frame's first five bytes may claim before a receiver with the default limit refuses it. */
const LARGEST_V1_PAYLOAD = 4 + 65_536 + 8_388_608;

export function makeCase(runSeed: number, index: number): FuzzCase {
  const random = new Random(caseSeed(runSeed, index));
  const kind = random.pick(MUTATIONS);
  const seed = random.pick(SEEDS);
  const first = mutate(kind, seed, random);
  let bytes = first.bytes;
  const mutations: Mutation[] = [kind];
  const labels = [first.label];
  // A second, byte-level mutation on top of a fifth of the cases.
  if (kind !== "random" && random.chance(0.2)) {
    const second = random.pick<Mutation>(["bit-flip", "truncation"]);
    const next = mutate(second, { name: seed.name, wire: "raw", parts: [bytes] }, random);
    bytes = next.bytes;
    mutations.push(second);
    labels.push(next.label);
  }
  const halfClose = random.chance(0.75);
  const { chunks, drip } = delivery(bytes.length, random);
  return { label: `${labels.join("; ")} (${halfClose ? "half-closed" : "left open"}${drip ? ", dripped" : chunks.length > 0 ? ", in pieces" : ""})`, mutations, bytes, halfClose, chunks, drip };
}

function delivery(length: number, random: Random): { chunks: number[]; drip: boolean } {
  const style = random.below(4);
  if (style <= 1 || length < 2) return { chunks: [], drip: false };
  const chunks: number[] = [];
  // A drip is bounded so that a case takes milliseconds, not seconds: at most 48 writes of 1 to 3 bytes.
  const drip = style === 3;
  const count = drip ? Math.min(48, length) : random.between(1, 5);
  let sent = 0;
  for (let index = 0; index < count && sent < length - 1; index += 1) {
    const size = drip ? random.between(1, 3) : random.between(1, Math.max(1, Math.floor((length - sent) / 2)));
    chunks.push(size);
    sent += size;
  }
  return { chunks, drip };
}

interface Mutated {
  readonly label: string;
  readonly bytes: Uint8Array;
}

function mutate(kind: Mutation, seed: Seed, random: Random): Mutated {
  switch (kind) {
    case "bit-flip":
      return bitFlip(seed, random);
    case "truncation":
      return truncate(seed, random);
    case "length":
      return setLength(seed, random);
    case "frames":
      return reframe(seed, random);
    case "random":
      return randomBytes(random);
    case "json":
      return jsonEdge(random);
    default: {
      const unknown: never = kind;
      throw new Error(`no mutation ${String(unknown)}`);
    }
  }
}

function bitFlip(seed: Seed, random: Random): Mutated {
  const bytes = concat(seed.parts);
  if (bytes.length === 0) return { label: `${seed.name}: nothing to flip`, bytes };
  const flips = random.between(1, 8);
  for (let flip = 0; flip < flips; flip += 1) {
    const at = random.below(bytes.length);
    bytes[at] = (bytes[at] ?? 0) ^ (1 << random.below(8));
  }
  return { label: `${seed.name}: ${flips} bit flip(s)`, bytes };
}

/** Where a framed stream's structure changes: inside the preface, after each frame's type, length, header length or flags, id length, and so on. */
export function boundaries(seed: Seed): number[] {
  const cuts = new Set<number>();
  let start = 0;
  seed.parts.forEach((part, index) => {
    const end = start + part.length;
    if (seed.wire === "framed" && index === 0) {
      for (let offset = 0; offset <= part.length; offset += 1) cuts.add(start + offset);
    } else if (seed.wire === "framed") {
      for (const offset of [0, 1, 5]) cuts.add(start + offset);
      if (seed.version === 1 && part.length >= 9) {
        const headerLength = new DataView(part.buffer, part.byteOffset).getUint32(5);
        cuts.add(start + 9);
        cuts.add(Math.min(end, start + 9 + headerLength));
      }
      if (seed.version === 2 && part.length >= 7) {
        cuts.add(start + 6);
        cuts.add(start + 7);
        cuts.add(Math.min(end, start + 7 + (part[6] ?? 0)));
      }
    } else {
      cuts.add(start + Math.floor(part.length / 2));
    }
    cuts.add(Math.max(start, end - 1));
    cuts.add(end);
    start = end;
  });
  return [...cuts].sort((a, b) => a - b);
}

function truncate(seed: Seed, random: Random): Mutated {
  const bytes = concat(seed.parts);
  const at = random.chance(0.8) ? random.pick(boundaries(seed)) : random.below(bytes.length + 1);
  return { label: `${seed.name}: cut after ${at} of ${bytes.length} bytes`, bytes: bytes.slice(0, at) };
}

const LENGTH_VALUES: readonly { name: string; value: (actual: number) => number }[] = [
  { name: "zero", value: () => 0 },
  { name: "one", value: () => 1 },
  { name: "three", value: () => 3 },
  { name: "one less", value: (actual) => Math.max(0, actual - 1) },
  { name: "one more", value: (actual) => actual + 1 },
  { name: "the largest accepted", value: () => LARGEST_V1_PAYLOAD },
  { name: "one above the largest accepted", value: () => LARGEST_V1_PAYLOAD + 1 },
  { name: "2^31 - 1", value: () => 0x7fff_ffff },
  { name: "-2^31 as a signed u32", value: () => 0x8000_0000 },
  { name: "-1 as a signed u32", value: () => 0xffff_ffff },
];

function setLength(seed: Seed, random: Random): Mutated {
  if (seed.wire !== "framed" || seed.parts.length < 2) return bitFlip(seed, random);
  const parts = seed.parts.map((part) => part.slice());
  const partIndex = random.between(1, parts.length - 1);
  const part = parts[partIndex] as Uint8Array;
  const view = new DataView(part.buffer, part.byteOffset, part.byteLength);
  const choice = random.pick(LENGTH_VALUES);
  let field: string;
  if (seed.version === 2 && part.length >= 8 && random.chance(0.4)) {
    // Version 2's u8 lengths: the id's, or the function's right after the id.
    const at = random.chance(0.5) ? 6 : Math.min(part.length - 1, 7 + (part[6] ?? 0));
    part[at] = choice.value(part[at] ?? 0) & 0xff;
    field = `u8 length at ${at}`;
  } else if (seed.version === 1 && part.length >= 9 && random.chance(0.4)) {
    view.setUint32(5, choice.value(view.getUint32(5)) >>> 0);
    field = "header length";
  } else {
    view.setUint32(1, choice.value(view.getUint32(1)) >>> 0);
    field = "payload length";
  }
  return { label: `${seed.name}: frame ${partIndex}'s ${field} set to ${choice.name}`, bytes: concat(parts) };
}

function reframe(seed: Seed, random: Random): Mutated {
  if (seed.wire !== "framed") return truncate(seed, random);
  const parts = [...seed.parts];
  const version = seed.version ?? 2;
  const operation = random.below(6);
  let label: string;
  if (operation === 0 && parts.length > 1) {
    const at = random.below(parts.length);
    parts.splice(at, 0, parts[at] as Uint8Array);
    label = `part ${at} repeated`;
  } else if (operation === 1 && parts.length > 2) {
    const a = random.below(parts.length);
    const b = random.below(parts.length);
    [parts[a], parts[b]] = [parts[b] as Uint8Array, parts[a] as Uint8Array];
    label = `parts ${a} and ${b} swapped`;
  } else if (operation === 2 && parts.length > 1) {
    const at = random.below(parts.length);
    parts.splice(at, 1);
    label = `part ${at} dropped`;
  } else if (operation === 3) {
    const otherVersion: ProtocolVersion = random.chance(0.7) ? version : version === 1 ? 2 : 1;
    const foreign = random.pick(vectorFrames.get(otherVersion) ?? []);
    const at = random.between(1, parts.length);
    parts.splice(at, 0, hex(foreign.hex));
    label = `version ${otherVersion} frame ${foreign.name} inserted at ${at}`;
  } else if (operation === 4) {
    const type = random.chance(0.5) ? random.between(0x80, 0xff) : random.between(0x07, 0x7f);
    const payload = random.bytes(random.between(0, 24));
    const frame = new Uint8Array(5 + payload.length);
    frame[0] = type;
    new DataView(frame.buffer).setUint32(1, payload.length);
    frame.set(payload, 5);
    const at = random.between(1, parts.length);
    parts.splice(at, 0, frame);
    label = `a frame of type 0x${type.toString(16)} inserted at ${at}`;
  } else {
    const calls = random.between(2, 6);
    for (let call = 0; call < calls; call += 1) parts.push(callFrame(version, utf8(`{"x":${call},"y":2}`), `fuzz-${call + 2}`));
    label = `${calls} more calls without waiting`;
  }
  return { label: `${seed.name}: ${label}`, bytes: concat(parts) };
}

function randomBytes(random: Random): Mutated {
  const length = random.chance(0.1) ? random.between(0, 4) : random.between(5, 600);
  const body = random.bytes(length);
  const prefix = random.pick([new Uint8Array(0), prefaceFor(1), prefaceFor(2), Uint8Array.of(0)]);
  return { label: `${length} random bytes after ${prefix.length === 0 ? "nothing" : `${prefix.length} preface bytes`}`, bytes: concat([prefix, body]) };
}

/** Where a JSON edge goes: a 2017 body, marked or not, a call's arguments, a version 1 header, version 2 metadata or call id. */
const JSON_PLACES = 6;

function jsonEdge(random: Random): Mutated {
  return placeJson(random.pick(JSON_EDGES), random.below(JSON_PLACES), random.chance(0.5) ? 1 : 2);
}

/**
 * Every JSON edge in every place, half-closed, sent before the counted
 * cases: the largest inputs set the replica's memory high-water mark, so
 * that what comes after can be held to it.
 */
export function warmUpCases(): FuzzCase[] {
  return JSON_EDGES.flatMap((edge) =>
    Array.from({ length: JSON_PLACES }, (_, place) => {
      const { label, bytes } = placeJson(edge, place, place % 2 === 0 ? 1 : 2);
      return { label: `warm-up: ${label}`, mutations: ["json"] as Mutation[], bytes, halfClose: true, chunks: [], drip: false };
    }),
  );
}

function placeJson(edge: (typeof JSON_EDGES)[number], place: number, version: ProtocolVersion): Mutated {
  const text = edge.bytes();
  switch (place) {
    case 0:
      return { label: `JSON ${edge.name}: a 2017 body`, bytes: text };
    case 1:
      return { label: `JSON ${edge.name}: a marked 2017 body`, bytes: concat([Uint8Array.of(0x09, 0x20, 0x09), text]) };
    case 2:
      return { label: `JSON ${edge.name}: version ${version} arguments`, bytes: concat([prefaceFor(version), callFrame(version, text)]) };
    case 3:
      return { label: `JSON ${edge.name}: a version 1 header`, bytes: concat([prefaceFor(1), frameV1(0x01, text, utf8('{"x":1,"y":2}'))]) };
    case 4:
      return { label: `JSON ${edge.name}: version 2 metadata`, bytes: concat([prefaceFor(2), callV2(utf8("fuzz-1"), utf8("add"), text, utf8('{"x":1,"y":2}'))]) };
    default:
      return { label: `${edge.name} as a version 2 call id`, bytes: concat([prefaceFor(2), callV2(text.slice(0, 255), utf8("add"), undefined, utf8('{"x":1,"y":2}'))]) };
  }
}

function frameV1(type: number, header: Uint8Array, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(9 + header.length + body.length);
  const view = new DataView(frame.buffer);
  frame[0] = type;
  view.setUint32(1, 4 + header.length + body.length);
  view.setUint32(5, header.length);
  frame.set(header, 9);
  frame.set(body, 9 + header.length);
  return frame;
}

/** A version 2 CALL with fields as raw bytes, valid or not (PROTOCOL.md section 5.4). */
function callV2(id: Uint8Array, name: Uint8Array, metadata: Uint8Array | undefined, body: Uint8Array): Uint8Array {
  const fields = [Uint8Array.of(metadata === undefined ? 0 : 0x08, id.length & 0xff), id, Uint8Array.of(name.length & 0xff), name];
  const deadline = new Uint8Array(8);
  new DataView(deadline.buffer).setFloat64(0, FAR_DEADLINE);
  fields.push(deadline);
  if (metadata !== undefined) {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, metadata.length);
    fields.push(length, metadata);
  }
  const payload = concat([...fields, body]);
  const head = new Uint8Array(5);
  head[0] = 0x01;
  new DataView(head.buffer).setUint32(1, payload.length);
  return concat([head, payload]);
}
