import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { failure } from "../test-support/failure.js";
import {
  DEFAULT_MAX_PAYLOAD_BYTES,
  FRAME_PREFIX_BYTES,
  FrameDecoder,
  FrameType,
  FunkerError,
  MAX_CALL_ID_LENGTH,
  MAX_FUNCTION_NAME_LENGTH,
  MAX_HEADER_BYTES,
  MAX_PAYLOAD_BYTES_LIMIT,
  MAX_TRACE_CONTEXT_LENGTH,
  PREFACE,
  decodeJson,
  encodeHello,
  prefaceFor,
  encodeCall,
  encodeCancel,
  encodeError,
  encodeHeartbeat,
  encodeResult,
  errorCodes,
} from "@funker/protocol";
import { encodeResultBody, encodeUtf8 } from "@funker/protocol/internal";
import type { CallHeader, Frame, ProtocolVersion, WireError } from "@funker/protocol";

const V1 = { version: 1 } as const;
const PREFACE_V1 = prefaceFor(1);

/** Every decoded frame plus the payload overhead: the most a decoder may hold between pushes. */
const HEADER_LENGTH_BYTES = 4;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** A version 2 frame of any type and payload, as it comes on the wire. */
function rawFrameV2(type: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(FRAME_PREFIX_BYTES + payload.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint32(1, payload.length);
  bytes.set(payload, FRAME_PREFIX_BYTES);
  return bytes;
}

function rawFrame(type: number, header: Uint8Array, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES + header.length + body.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, type);
  view.setUint32(1, HEADER_LENGTH_BYTES + header.length + body.length);
  view.setUint32(FRAME_PREFIX_BYTES, header.length);
  bytes.set(header, FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES);
  bytes.set(body, FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES + header.length);
  return bytes;
}

/** A frame as plain data, bodies decoded, so frames compare with toEqual. */
function meaning(frame: Frame): unknown {
  switch (frame.type) {
    case "call": {
      const { body, metadata, auth, ...rest } = frame;
      return {
        ...rest,
        ...(metadata === undefined ? {} : { metadata: { ...metadata } }),
        ...(auth === undefined ? {} : { auth: { keyId: auth.keyId, timestamp: auth.timestamp, mac: [...auth.mac] } }),
        args: decodeJson(body),
      };
    }
    case "result": {
      const { body, ...rest } = frame;
      return { ...rest, value: decodeJson(body) };
    }
    default:
      return { ...frame };
  }
}

/** What JSON makes of a value: -0 becomes 0, undefined members vanish. */
function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value ?? null)) as unknown;
}

/** Cut `bytes` at the given points (taken modulo its length), keeping every piece, empty ones included. */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.slice(start, point));
    start = point;
  }
  pieces.push(bytes.slice(start));
  return pieces;
}


const safeJson = fc.jsonValue({ maxDepth: 4 }).filter((value) => !/__proto__|constructor/.test(JSON.stringify(value)));
const callId = fc.string({ minLength: 1, maxLength: MAX_CALL_ID_LENGTH });
const text = fc.string({ maxLength: 40, unit: "binary" });

const wireCause = fc.record(
  { name: fc.string(), message: text, code: fc.string(), data: safeJson, cause: fc.record({ name: fc.string(), message: text }) },
  { requiredKeys: ["name", "message"] },
);

const wireError: fc.Arbitrary<WireError> = fc.record(
  { code: fc.constantFrom(...errorCodes), message: text, name: fc.string(), data: safeJson, stack: text, cause: wireCause },
  { requiredKeys: ["code", "message"] },
);

const callHeaderV1: fc.Arbitrary<CallHeader> = fc.record(
  {
    id: callId,
    function: fc.string({ minLength: 1, maxLength: MAX_FUNCTION_NAME_LENGTH }),
    deadline: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    heartbeatIntervalMs: fc.nat(),
    traceparent: fc.string({ maxLength: 512 }),
    tracestate: fc.string({ maxLength: 512 }),
    metadata: fc.dictionary(fc.string().filter((key) => key !== "__proto__"), fc.string(), { maxKeys: 4 }),
  },
  { requiredKeys: ["id", "function", "deadline"] },
);

/** Version 2 adds the signature, and carries any deadline a double can (fractions included). */
const callHeaderV2: fc.Arbitrary<CallHeader> = fc
  .tuple(
    callHeaderV1,
    fc.option(fc.double({ min: 0, max: Number.MAX_SAFE_INTEGER, noNaN: true }), { nil: undefined }),
    fc.option(fc.record({ keyId: fc.string({ minLength: 1, maxLength: 64 }), timestamp: fc.nat(), mac: fc.uint8Array({ minLength: 32, maxLength: 32 }) }), { nil: undefined }),
  )
  .map(([header, deadline, auth]) => ({ ...header, ...(deadline === undefined ? {} : { deadline }), ...(auth === undefined ? {} : { auth }) }));

/** A frame's bytes and what a decoder must report for it (nothing, for an extension). */
interface Sample {
  bytes: Uint8Array;
  expected: unknown[];
}

function sampleOf(version: ProtocolVersion): fc.Arbitrary<Sample> {
  const options = { version };
  return fc.oneof(
    fc.tuple(version === 1 ? callHeaderV1 : callHeaderV2, safeJson).map(([header, args]) => ({
      bytes: encodeCall(header, args, options),
      expected: [{ type: "call", ...(asJson({ ...header, auth: header.auth === undefined ? undefined : { ...header.auth, mac: [...header.auth.mac] } }) as object), args: asJson(args) }],
    })),
    fc.tuple(callId, safeJson, fc.boolean()).map(([id, value, keepAlive]) => ({
      bytes: encodeResult(id, value, { keepAlive, version }),
      expected: [{ type: "result", id, keepAlive, value: asJson(value) }],
    })),
    fc.tuple(fc.string({ maxLength: MAX_CALL_ID_LENGTH }), wireError, fc.boolean(), fc.boolean()).map(([id, error, keepAlive, refused]) => ({
      bytes: encodeError(id, error, { keepAlive, refused, version }),
      expected: [{ type: "error", id, keepAlive, refused, error: asJson(error) }],
    })),
    callId.map((id) => ({ bytes: encodeHeartbeat(id, options), expected: [{ type: "heartbeat", id }] })),
    fc.tuple(callId, fc.option(text, { nil: undefined })).map(([id, reason]) => ({
      bytes: encodeCancel(id, reason, options),
      expected: [reason === undefined || (version === 2 && reason === "") ? { type: "cancel", id } : { type: "cancel", id, reason }],
    })),
    version === 1
      ? fc.tuple(fc.integer({ min: 0x80, max: 0xff }), fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 300 })).map(([type, header, body]) => ({
          bytes: rawFrame(type, header, body),
          expected: [],
        }))
      : fc.tuple(fc.integer({ min: 0x80, max: 0xff }), fc.uint8Array({ maxLength: 300 })).map(([type, payload]) => ({ bytes: rawFrameV2(type, payload), expected: [] })),
  );
}

/** Several frames in one stream, some large enough that chunks overrun the decoder's first buffer. */
function streamOf(version: ProtocolVersion): fc.Arbitrary<Sample[]> {
  const large = fc.tuple(callId, fc.string({ minLength: 3000, maxLength: 9000 })).map(([id, value]) => ({ bytes: encodeResult(id, value, { version }), expected: [{ type: "result", id, keepAlive: false, value }] }));
  return fc.array(fc.oneof({ weight: 5, arbitrary: sampleOf(version) }, { weight: 1, arbitrary: large }), { minLength: 1, maxLength: 8 });
}

/** Decodes pieces in order and reports the frames only after the last push, so views handed out must survive later pushes. */
function decodeAll(pieces: readonly Uint8Array[], version: ProtocolVersion, expectPreface = false): unknown[] {
  const decoder = new FrameDecoder({ expectPreface, version });
  const frames: Frame[] = [];
  for (const piece of pieces) frames.push(...decoder.push(piece));
  decoder.end();
  return frames.map(meaning);
}

describe.each([1, 2] as const)("FrameDecoder: round trip and chunking, version %i", (version) => {
  const stream = streamOf(version);
  const sample = sampleOf(version);
  const preface = prefaceFor(version);
  const options = { version };

  it("decodes what the encoders wrote, for any frames and values", () => {
    fc.assert(
      fc.property(stream, (samples) => {
        expect(decodeAll([concat(samples.map((item) => item.bytes))], version)).toEqual(samples.flatMap((item) => item.expected));
      }),
      { numRuns: 150 },
    );
  });

  it("gives the same frames for any split of the stream as for one chunk, without changing the chunks", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), fc.boolean(), (samples, cuts, withPreface) => {
        const bytes = concat([...(withPreface ? [preface] : []), ...samples.map((item) => item.bytes)]);
        const pieces = split(bytes, cuts);
        const copies = pieces.map((piece) => piece.slice());
        expect(decodeAll(pieces, version, withPreface)).toEqual(samples.flatMap((item) => item.expected));
        expect(pieces).toEqual(copies);
      }),
      { numRuns: 80 },
    );
  });

  it("with reusedChunks, gives the same frames when every chunk's memory is overwritten as soon as push returns", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 30 }), (samples, cuts) => {
        const bytes = concat([preface, ...samples.map((item) => item.bytes)]);
        // One read buffer for every chunk, as a socket read with Node's onread fills it.
        const readBuffer = new Uint8Array(bytes.length + 1);
        const decoder = new FrameDecoder({ expectPreface: true, reusedChunks: true });
        const decoded: unknown[] = [];
        for (const piece of split(bytes, cuts)) {
          readBuffer.set(piece);
          // Frames are read before the buffer is reused, as the client does.
          decoded.push(...decoder.push(readBuffer.subarray(0, piece.length)).map(meaning));
          readBuffer.fill(0xff);
        }
        decoder.end();
        expect(decoded).toEqual(samples.flatMap((item) => item.expected));
      }),
      { numRuns: 80 },
    );
  });

  it("gives the same frames fed one byte at a time", () => {
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 4 }), (samples) => {
        const bytes = concat([preface, ...samples.map((item) => item.bytes)]);
        const bytewise = Array.from(bytes, (byte) => Uint8Array.of(byte));
        expect(decodeAll(bytewise, version, true)).toEqual(samples.flatMap((item) => item.expected));
      }),
      { numRuns: 60 },
    );
  });

  it("keeps handed-out bodies intact while later pushes grow, refill and reuse its buffer", () => {
    const first = encodeResult("a", "x".repeat(5000), options);
    const second = encodeResult("b", "y".repeat(20), options);
    const third = encodeResult("c", "z".repeat(70000), options);
    const stream = concat([first, second, third]);
    const decoder = new FrameDecoder(options);
    const frames: Frame[] = [];
    // Odd-sized pieces: frames end mid-piece, so each push appends behind bytes already handed out.
    for (let offset = 0; offset < stream.length; offset += 997) frames.push(...decoder.push(stream.slice(offset, offset + 997)));
    expect(frames.map(meaning)).toEqual([
      { type: "result", id: "a", keepAlive: false, value: "x".repeat(5000) },
      { type: "result", id: "b", keepAlive: false, value: "y".repeat(20) },
      { type: "result", id: "c", keepAlive: false, value: "z".repeat(70000) },
    ]);
  });

  it("skips extension frames (0x80 and above) between the frames it knows", () => {
    const extensions = version === 1 ? [rawFrame(0x80, encodeUtf8("not json")), rawFrame(0xff, new Uint8Array(0), Uint8Array.of(1, 2, 3))] : [rawFrameV2(0x80, encodeUtf8("not json")), rawFrameV2(0xff, Uint8Array.of(1, 2, 3))];
    const frames = new FrameDecoder(options).push(concat([extensions[0] as Uint8Array, encodeHeartbeat("h", options), extensions[1] as Uint8Array]));
    expect(frames).toEqual([{ type: "heartbeat", id: "h" }]);
  });

  it("encodeResultBody frames a body encoded beforehand", () => {
    expect(encodeResultBody("r", encodeUtf8("[1,2]"), { keepAlive: true, version })).toEqual(encodeResult("r", [1, 2], { keepAlive: true, version }));
  });
});

it("version 1 ignores header fields it does not know, so later versions may add optional ones", () => {
  const frames = new FrameDecoder({ version: 1 }).push(rawFrame(FrameType.result, encodeUtf8('{"id":"r","keepAlive":true,"compression":"none"}'), encodeUtf8("1")));
  expect(frames.map(meaning)).toEqual([{ type: "result", id: "r", keepAlive: true, value: 1 }]);
});

describe("FrameDecoder: bad input (version 1 layout)", () => {
  const stream = streamOf(1);
  const allowedCodes = ["protocol_error", "payload_too_large"];

  /** Feeds pieces and checks the decoder's contract at every step; returns the failure, if any. */
  function feed(pieces: readonly Uint8Array[], options: { expectPreface: boolean; maxPayloadBytes: number }): FunkerError | undefined {
    const decoder = new FrameDecoder({ ...options, version: 1 });
    const bound = FRAME_PREFIX_BYTES + HEADER_LENGTH_BYTES + MAX_HEADER_BYTES + options.maxPayloadBytes;
    let failed: FunkerError | undefined;
    for (const piece of [...pieces, undefined]) {
      try {
        if (piece === undefined) decoder.end();
        else decoder.push(piece);
      } catch (error) {
        if (!(error instanceof FunkerError)) throw error;
        expect(allowedCodes).toContain(error.code);
        failed = error;
        break;
      }
      expect(decoder.bufferedBytes).toBeLessThan(bound);
    }
    if (failed !== undefined) {
      // Once failed, a decoder stays failed: it cannot resynchronise inside a stream.
      expect(() => decoder.push(encodeHeartbeat("h", V1))).toThrow(failed);
      expect(() => decoder.end()).toThrow(failed);
    }
    return failed;
  }

  const limit = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(DEFAULT_MAX_PAYLOAD_BYTES));

  it("random bytes only ever fail with protocol_error or payload_too_large", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), limit, (bytes, cuts, expectPreface, maxPayloadBytes) => {
        feed(split(bytes, cuts), { expectPreface, maxPayloadBytes });
      }),
      { numRuns: 300 },
    );
  });

  it("random bytes after a valid preface only ever fail with protocol_error or payload_too_large", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), limit, (bytes, cuts, maxPayloadBytes) => {
        feed(split(concat([PREFACE_V1, bytes]), cuts), { expectPreface: true, maxPayloadBytes });
      }),
      { numRuns: 300 },
    );
  });

  it("valid streams with corrupted bytes only ever fail with protocol_error or payload_too_large", () => {
    fc.assert(
      fc.property(stream, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), limit, (samples, corruptions, cuts, maxPayloadBytes) => {
        const bytes = concat(samples.map((item) => item.bytes));
        for (const [position, value] of corruptions) bytes[position % bytes.length] = value;
        feed(split(bytes, cuts), { expectPreface: false, maxPayloadBytes });
      }),
      { numRuns: 200 },
    );
  });

  it("refuses a claimed 4 GiB payload after 5 bytes, holding no more than those bytes", () => {
    const decoder = new FrameDecoder({ version: 1, maxPayloadBytes: MAX_PAYLOAD_BYTES_LIMIT });
    const claim = Uint8Array.of(FrameType.result, 0xff, 0xff, 0xff, 0xff);
    for (const byte of claim.subarray(0, 4)) {
      expect(decoder.push(Uint8Array.of(byte))).toEqual([]);
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(4);
    }
    const error = failure(() => decoder.push(claim.subarray(4)));
    expect(error.code).toBe("payload_too_large");
    expect(error.data).toEqual({ size: 0xffffffff, limit: MAX_PAYLOAD_BYTES_LIMIT });
  });

  it("accepts a body of exactly the limit and refuses one byte more once the header length is known", () => {
    const atLimit = encodeResultBody("r", encodeUtf8(`"${"x".repeat(14)}"`), V1);
    expect(new FrameDecoder({ version: 1, maxPayloadBytes: 16 }).push(atLimit)).toHaveLength(1);
    const overLimit = encodeResultBody("r", encodeUtf8(`"${"x".repeat(15)}"`), V1);
    const decoder = new FrameDecoder({ version: 1, maxPayloadBytes: 16 });
    expect(decoder.push(overLimit.subarray(0, 8))).toEqual([]);
    expect(failure(() => decoder.push(overLimit.subarray(8, 9))).code).toBe("payload_too_large");
  });

  it("refuses a header longer than MAX_HEADER_BYTES on both sides", () => {
    const header = { id: "c", function: "f", deadline: 0, metadata: { big: "x".repeat(MAX_HEADER_BYTES) } };
    expect(failure(() => encodeCall(header, null, V1)).code).toBe("payload_too_large");
    const claim = new Uint8Array(9);
    new DataView(claim.buffer).setUint8(0, FrameType.call);
    new DataView(claim.buffer).setUint32(1, MAX_HEADER_BYTES + 5);
    new DataView(claim.buffer).setUint32(5, MAX_HEADER_BYTES + 1);
    expect(failure(() => new FrameDecoder(V1).push(claim)).code).toBe("protocol_error");
  });

  it("refuses arguments above the payload limit before framing them", () => {
    const error = failure(() => encodeCall({ id: "c", function: "f", deadline: 0 }, "x".repeat(100), { maxPayloadBytes: 50, version: 1 }));
    expect(error.code).toBe("payload_too_large");
    expect(error.mayHaveRun).toBe(false);
  });

  it("end() inside a frame or a preface is a truncated stream", () => {
    const frame = encodeHeartbeat("h", V1);
    for (let length = 1; length < frame.length; length += 1) {
      const decoder = new FrameDecoder(V1);
      decoder.push(frame.subarray(0, length));
      expect(failure(() => decoder.end()).code).toBe("protocol_error");
    }
    const handlerSide = new FrameDecoder({ version: 1, expectPreface: true });
    handlerSide.push(PREFACE_V1.subarray(0, 3));
    expect(failure(() => handlerSide.end()).code).toBe("protocol_error");
    const finished = new FrameDecoder({ version: 1, expectPreface: true });
    finished.push(concat([PREFACE_V1, frame]));
    expect(() => finished.end()).not.toThrow();
  });

  it("reports the supported versions when the preface names another version", () => {
    const error = failure(() => new FrameDecoder({ version: 1, expectPreface: true }).push(Uint8Array.of(...PREFACE_V1.subarray(0, 7), 3)));
    expect(error.code).toBe("protocol_error");
    expect(error.data).toEqual({ supportedVersions: [1, 2] });
  });

  it("fails at the first byte that departs from the preface", () => {
    const decoder = new FrameDecoder({ version: 1, expectPreface: true });
    expect(decoder.push(PREFACE_V1.subarray(0, 2))).toEqual([]);
    expect(failure(() => decoder.push(encodeUtf8("X"))).code).toBe("protocol_error");
  });

  it("refuses maxPayloadBytes outside 1 to MAX_PAYLOAD_BYTES_LIMIT", () => {
    for (const maxPayloadBytes of [0, -5, 2.5, MAX_PAYLOAD_BYTES_LIMIT + 1]) expect(() => new FrameDecoder({ version: 1, maxPayloadBytes })).toThrow(RangeError);
  });
});

describe("call header validation", () => {
  function decodeCallHeader(header: Record<string, unknown>): Frame[] {
    return new FrameDecoder(V1).push(rawFrame(FrameType.call, encodeUtf8(JSON.stringify(header)), encodeUtf8("null")));
  }
  const valid = { id: "c1", function: "add", deadline: 1_767_225_600_000 };

  const { id: _id, ...withoutId } = valid;
  const { function: _function, ...withoutFunction } = valid;
  const { deadline: _deadline, ...withoutDeadline } = valid;
  const badHeaders: [string, Record<string, unknown>][] = [
    ["no id", withoutId],
    ["an empty id", { ...valid, id: "" }],
    ["an id over the length limit", { ...valid, id: "i".repeat(MAX_CALL_ID_LENGTH + 1) }],
    ["a numeric id", { ...valid, id: 7 }],
    ["no function name", withoutFunction],
    ["an empty function name", { ...valid, function: "" }],
    ["a function name longer than a Docker service name", { ...valid, function: "f".repeat(MAX_FUNCTION_NAME_LENGTH + 1) }],
    ["no deadline", withoutDeadline],
    ["a negative deadline", { ...valid, deadline: -1 }],
    ["a deadline as a string", { ...valid, deadline: "soon" }],
    ["a deadline that is NaN (JSON writes null)", { ...valid, deadline: Number.NaN }],
    ["an infinite deadline (JSON writes null)", { ...valid, deadline: Number.POSITIVE_INFINITY }],
    ["a fractional heartbeat interval", { ...valid, heartbeatIntervalMs: 1.5 }],
    ["a negative heartbeat interval", { ...valid, heartbeatIntervalMs: -1 }],
    ["a heartbeat interval as a string", { ...valid, heartbeatIntervalMs: "5000" }],
    ["a traceparent over 512 characters", { ...valid, traceparent: "t".repeat(MAX_TRACE_CONTEXT_LENGTH + 1) }],
    ["a tracestate over 512 characters", { ...valid, tracestate: "t".repeat(MAX_TRACE_CONTEXT_LENGTH + 1) }],
    ["a traceparent that is not a string", { ...valid, traceparent: 1 }],
    ["a tracestate that is null", { ...valid, tracestate: null }],
    ["metadata that is an array", { ...valid, metadata: ["a"] }],
    ["metadata that is null", { ...valid, metadata: null }],
    ["metadata that is a string", { ...valid, metadata: "tenant=acme" }],
    ["metadata with a number value", { ...valid, metadata: { retries: 3 } }],
    ["metadata with an object value", { ...valid, metadata: { tenant: { id: "acme" } } }],
    ["metadata with a __proto__ key", { ...valid, metadata: JSON.parse('{"__proto__":"x"}') as unknown }],
  ];

  it.each(badHeaders)("refuses %s with protocol_error", (_what, header) => {
    expect(failure(() => decodeCallHeader(header)).code).toBe("protocol_error");
  });

  it.each(badHeaders)("refuses to encode %s, with bad_arguments before anything is sent", (_what, header) => {
    const error = failure(() => encodeCall(header as unknown as CallHeader, null, V1));
    expect(error.code).toBe("bad_arguments");
    expect(error.mayHaveRun).toBe(false);
  });

  it("encoder and decoder refuse the same call headers, for any field values", () => {
    const oddValue = fc.constantFrom(undefined, null, Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, 0, "", "x".repeat(MAX_TRACE_CONTEXT_LENGTH + 1));
    // Mostly valid fields, so that a header often breaks exactly one rule.
    const field = (validValue: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
      fc.oneof({ weight: 12, arbitrary: validValue }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: oddValue });
    const anyHeader = fc.record(
      {
        id: field(callId),
        function: field(fc.string({ minLength: 1, maxLength: MAX_FUNCTION_NAME_LENGTH })),
        deadline: field(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        heartbeatIntervalMs: field(fc.nat()),
        traceparent: field(fc.string({ maxLength: MAX_TRACE_CONTEXT_LENGTH })),
        tracestate: field(fc.string({ maxLength: MAX_TRACE_CONTEXT_LENGTH })),
        metadata: field(fc.dictionary(fc.string(), fc.oneof({ weight: 8, arbitrary: fc.string() }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) }), { maxKeys: 4 })),
      },
      { requiredKeys: ["id", "function", "deadline"] },
    );
    const outcome = (action: () => unknown): string => {
      try {
        action();
        return "accepted";
      } catch (error) {
        if (!(error instanceof FunkerError)) throw error;
        return "refused";
      }
    };
    fc.assert(
      fc.property(anyHeader, (header) => {
        const encoded = outcome(() => encodeCall(header as unknown as CallHeader, null, V1));
        const decoded = outcome(() => decodeCallHeader(header));
        expect(encoded).toBe(decoded);
      }),
      { numRuns: 1_000 },
    );
  });

  it("refuses to encode metadata that JSON would not write as the entries it holds", () => {
    for (const metadata of [new Map([["tenant", "acme"]]), Object.assign(new String("ab"), {}), new (class Tags { tenant = "acme"; })()]) {
      const error = failure(() => encodeCall({ ...valid, metadata } as unknown as CallHeader, null, V1));
      expect(error.code).toBe("bad_arguments");
      expect(error.message).toContain('"metadata"');
    }
  });

  it("refuses to sign a call in version 1, which carries no signature", () => {
    const auth = { keyId: "k", timestamp: 0, mac: new Uint8Array(32) };
    expect(failure(() => encodeCall({ ...valid, auth }, null, V1))).toMatchObject({ code: "bad_arguments", message: expect.stringContaining("version 2") as unknown });
  });

  it("accepts the longest id, function name and trace context, on both sides", () => {
    const header = {
      ...valid,
      id: "i".repeat(MAX_CALL_ID_LENGTH),
      function: "f".repeat(MAX_FUNCTION_NAME_LENGTH),
      traceparent: "t".repeat(MAX_TRACE_CONTEXT_LENGTH),
      tracestate: "s".repeat(MAX_TRACE_CONTEXT_LENGTH),
      metadata: { constructor: "c", "": "" },
    };
    const [frame] = decodeCallHeader(header);
    expect(frame?.type).toBe("call");
    const [encoded] = new FrameDecoder(V1).push(encodeCall(header, null, V1));
    expect(encoded === undefined ? undefined : meaning(encoded)).toEqual({ type: "call", ...header, args: null });
  });

  it("decodes metadata into a null-prototype object, so no key reaches Object.prototype", () => {
    const [frame] = decodeCallHeader({ ...valid, metadata: { constructor: "c", toString: "t", hasOwnProperty: "h" } });
    if (frame?.type !== "call" || frame.metadata === undefined) throw new Error("expected a call with metadata");
    expect(Object.getPrototypeOf(frame.metadata)).toBeNull();
    expect({ ...frame.metadata }).toEqual({ constructor: "c", toString: "t", hasOwnProperty: "h" });
    expect(Object.prototype.toString).toBe(Object.prototype.toString);
    expect(typeof ({} as { toString: unknown }).toString).toBe("function");
  });

  it("refuses __proto__ anywhere in a header and leaves Object.prototype untouched", () => {
    for (const header of ['{"id":"c1","__proto__":{"polluted":1}}', '{"id":"c1","function":"f","deadline":0,"metadata":{"__proto__":"x"}}', '{"id":"c1","function":"f","deadline":0,"auth":[{"a":{"__proto__":{"polluted":1}}}]}']) {
      expect(failure(() => new FrameDecoder(V1).push(rawFrame(FrameType.call, encodeUtf8(header)))).code).toBe("protocol_error");
    }
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it.each([1, 2] as const)("only error frames may carry an empty id (version %i)", (version) => {
    const options = { version };
    expect(new FrameDecoder(options).push(encodeError("", { code: "protocol_error", message: "m" }, options))).toHaveLength(1);
    for (const frame of [encodeHeartbeat("", options), encodeResult("", 1, options), encodeCancel("", undefined, options)]) {
      expect(failure(() => new FrameDecoder(options).push(frame)).code).toBe("protocol_error");
    }
  });

  it("refuses an unknown frame type below 0x80, even with a valid header", () => {
    for (const type of [0x00, 0x06, 0x10, 0x7f]) {
      expect(failure(() => new FrameDecoder(V1).push(rawFrame(type, encodeUtf8('{"id":"c1"}')))).message).toContain("unknown frame type");
    }
  });
});

describe("version 2", () => {
  const call = { id: "c1", function: "add", deadline: 1_767_225_600_000 };

  it("a handler's decoder learns the version from the preface and reads each version's layout", () => {
    for (const version of [1, 2] as const) {
      const decoder = new FrameDecoder({ expectPreface: true });
      expect(decoder.version).toBeUndefined();
      const [frame] = decoder.push(concat([prefaceFor(version), encodeCall(call, { x: 1 }, { version })]));
      expect(decoder.version).toBe(version);
      expect(frame === undefined ? undefined : meaning(frame)).toEqual({ type: "call", ...call, args: { x: 1 } });
    }
  });

  it("a caller's decoder expecting a HELLO reads it, then version 2 frames", () => {
    const decoder = new FrameDecoder({ expectHello: true });
    const frames = decoder.push(concat([encodeHello({ authRequired: true, functionName: "add" }), encodeResult("c1", 3)]));
    expect(frames.map(meaning)).toEqual([
      { type: "hello", version: 2, authRequired: true, functionName: "add" },
      { type: "result", id: "c1", keepAlive: false, value: 3 },
    ]);
    expect(decoder.version).toBe(2);
  });

  it("a caller's decoder expecting a HELLO reads a version 1 handler's refusal of the preface in the version 1 layout", () => {
    const decoder = new FrameDecoder({ expectHello: true });
    const refusal = encodeError("", { code: "protocol_error", message: "unsupported protocol version 2", data: { supportedVersions: [1] } }, { version: 1, refused: true });
    const [frame] = decoder.push(refusal);
    expect(frame).toMatchObject({ type: "error", id: "", refused: true, error: { code: "protocol_error", data: { supportedVersions: [1] } } });
    expect(decoder.version).toBe(1);
  });

  it("a caller's decoder expecting a HELLO refuses any other first frame", () => {
    expect(failure(() => new FrameDecoder({ expectHello: true }).push(encodeResult("c1", 3))).code).toBe("protocol_error");
  });

  it("a HELLO is in version 2 only", () => {
    expect(failure(() => new FrameDecoder(V1).push(encodeHello())).code).toBe("protocol_error");
  });

  it("carries a signature: key id, timestamp and the 32 bytes of the MAC", () => {
    const auth = { keyId: "2024-rotation", timestamp: 1_767_225_590_000, mac: Uint8Array.from({ length: 32 }, (_, index) => 255 - index) };
    const [frame] = new FrameDecoder().push(encodeCall({ ...call, auth }, null));
    expect(frame?.type === "call" ? frame.auth : undefined).toEqual(auth);
  });

  it("refuses signatures that break the rules, on both sides", () => {
    const bad = [
      { keyId: "", timestamp: 0, mac: new Uint8Array(32) },
      { keyId: "k".repeat(65), timestamp: 0, mac: new Uint8Array(32) },
      { keyId: "k", timestamp: -1, mac: new Uint8Array(32) },
      { keyId: "k", timestamp: 0, mac: new Uint8Array(31) },
    ];
    for (const auth of bad) expect(failure(() => encodeCall({ ...call, auth }, null)).code, JSON.stringify(auth.keyId)).toBe("bad_arguments");
    // On the wire: a key id of 0 bytes.
    const wire = concat([encodeCall(call, null)]);
    const withAuth = encodeCall({ ...call, auth: { keyId: "k", timestamp: 0, mac: new Uint8Array(32) } }, null);
    expect(withAuth.length).toBeGreaterThan(wire.length);
    const emptyKeyId = withAuth.slice();
    const keyIdOffset = withAuth.length - "null".length - 32 - 8 - 2;
    emptyKeyId[keyIdOffset] = 0;
    expect(failure(() => new FrameDecoder().push(emptyKeyId)).code).toBe("protocol_error");
  });

  it("writes a deadline with a fraction of a millisecond as it is", () => {
    const [frame] = new FrameDecoder().push(encodeCall({ ...call, deadline: 1_767_225_600_000.5 }, null));
    expect(frame?.type === "call" ? frame.deadline : undefined).toBe(1_767_225_600_000.5);
  });

  it("refuses an id whose UTF-8 is longer than its one-byte length can say", () => {
    expect(failure(() => encodeResult("é".repeat(128), 1)).code).toBe("bad_arguments");
    expect(new FrameDecoder().push(encodeResult("é".repeat(127), 1))).toHaveLength(1);
  });

  it("cuts a cancel reason longer than 512 bytes at a character boundary", () => {
    const [frame] = new FrameDecoder().push(encodeCancel("c1", "ü".repeat(400)));
    expect(frame?.type === "cancel" ? frame.reason : undefined).toBe("ü".repeat(256));
  });

  it("refuses flag bits it does not define, and headers cut short", () => {
    const result = encodeResult("c1", 3);
    const flagged = result.slice();
    flagged[5] = 0x04;
    expect(failure(() => new FrameDecoder().push(flagged)).code).toBe("protocol_error");
    const minimal = encodeCall(call, null);
    for (let cut = 6; cut < minimal.length - 4; cut += 1) {
      const truncated = minimal.slice(0, cut);
      new DataView(truncated.buffer).setUint32(1, cut - 5);
      expect(failure(() => new FrameDecoder({ expectPreface: true }).push(concat([PREFACE, truncated]))).code).toBe("protocol_error");
    }
  });

  it("random bytes after a version 2 preface only ever fail with protocol_error or payload_too_large", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        const decoder = new FrameDecoder({ expectPreface: true, maxPayloadBytes: 64 });
        try {
          for (const piece of split(concat([PREFACE, bytes]), cuts)) decoder.push(piece);
          decoder.end();
        } catch (error) {
          expect(error).toBeInstanceOf(FunkerError);
          expect(["protocol_error", "payload_too_large"]).toContain((error as FunkerError).code);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("refuses a call body above the limit once the payload has arrived, and a claim above header + limit at once", () => {
    const over = encodeCall(call, "x".repeat(100));
    expect(failure(() => new FrameDecoder({ expectPreface: true, maxPayloadBytes: 50 }).push(concat([PREFACE, over]))).code).toBe("payload_too_large");
    const claim = Uint8Array.of(FrameType.result, 0xff, 0xff, 0xff, 0xff);
    expect(failure(() => new FrameDecoder().push(claim)).code).toBe("payload_too_large");
  });
});
