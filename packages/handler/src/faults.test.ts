import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { FrameDecoder, FunkerError, PREFACE, encodeCall } from "@funker/protocol";
import { FramedCaller, deferred, frameError, framedCall, legacyCall, legacyError, open, readAll, resultValue, serve } from "../test-support/wire.js";

const add = (args: { x: number; y: number }) => args.x + args.y;

/** Reads every frame a handler sent on a raw socket. */
/** The frames a version 2 caller reads after the handler's HELLO (or a version 1 ERROR, for a preface the handler could not read). */
function framesOf(bytes: Buffer) {
  return new FrameDecoder({ expectHello: true }).push(bytes).filter((frame) => frame.type !== "hello");
}

describe("bad input: a typed error reply, no crash", () => {
  it("answers malformed JSON arguments with bad_arguments (legacy)", async () => {
    await using server = await serve(add);
    expect(legacyError(await legacyCall(server.port, '{"x":1,'))).toMatchObject({ code: "bad_arguments" });
  });

  it("answers malformed JSON arguments with bad_arguments (framed)", async () => {
    await using server = await serve(add);
    await using caller = await FramedCaller.open(server.port);
    const call = encodeCall({ id: "c1", function: "add", deadline: Date.now() + 10_000 }, {});
    // Replace the body "{}" by "{]" in place: the frame stays well formed, its JSON does not.
    call[call.length - 1] = 0x5d;
    caller.socket.write(Buffer.concat([PREFACE, call]));
    expect(frameError(await caller.reply())).toMatchObject({ code: "bad_arguments" });
  });

  it("answers truncated arguments with bad_arguments", async () => {
    await using server = await serve(add);
    expect(legacyError(await legacyCall(server.port, '{"x":1,"y":2'))).toMatchObject({ code: "bad_arguments" });
  });

  it("answers a truncated frame with protocol_error", async () => {
    await using server = await serve(add);
    const socket = await open(server.port);
    const reply = readAll(socket);
    const call = encodeCall({ id: "c1", function: "add", deadline: Date.now() + 10_000 }, { x: 1, y: 2 });
    socket.end(Buffer.concat([PREFACE, call.subarray(0, call.length - 3)]));
    const [frame] = framesOf(await reply);
    expect(frame === undefined ? undefined : frameError(frame).code).toBe("protocol_error");
  });

  it("answers non-UTF-8 arguments with bad_arguments", async () => {
    await using server = await serve(add);
    const body = Buffer.from([0x22, 0xc3, 0x28, 0x22]); // a string with an invalid UTF-8 sequence
    expect(legacyError(await legacyCall(server.port, body))).toMatchObject({ code: "bad_arguments" });
  });

  it("answers oversized legacy arguments with payload_too_large", async () => {
    await using server = await serve(add, { maxPayloadBytes: 1_000 });
    const socket = await open(server.port);
    const reply = readAll(socket);
    // The caller keeps sending after the limit: the reply must still arrive.
    socket.end(`[${"1,".repeat(50_000)}1]`);
    expect(legacyError(await reply).code).toBe("payload_too_large");
  });

  it("answers oversized framed arguments with payload_too_large", async () => {
    await using server = await serve(add, { maxPayloadBytes: 1_000 });
    await using caller = await FramedCaller.open(server.port);
    caller.send("x".repeat(5_000));
    expect(frameError(await caller.reply()).code).toBe("payload_too_large");
    await caller.closed();
  });

  it("answers random bytes starting with NUL with a framed protocol_error", async () => {
    await using server = await serve(add);
    const socket = await open(server.port);
    const reply = readAll(socket);
    socket.end(Buffer.concat([Buffer.from([0]), randomBytes(64)]));
    const [frame] = framesOf(await reply);
    expect(frame === undefined ? undefined : frameError(frame).code).toBe("protocol_error");
  });

  it("answers random bytes with a legacy bad_arguments error", async () => {
    await using server = await serve(add);
    const bytes = randomBytes(256);
    bytes[0] = 0xff; // never a NUL, never valid UTF-8
    expect(legacyError(await legacyCall(server.port, bytes)).code).toBe("bad_arguments");
  });

  it("answers a frame a caller may not send with protocol_error", async () => {
    await using server = await serve(add);
    await using caller = await FramedCaller.open(server.port);
    // A heartbeat frame (type 4) with header {"id":"h"}.
    const header = Buffer.from('{"id":"h"}');
    const frame = Buffer.alloc(9 + header.length);
    frame.writeUInt8(4, 0);
    frame.writeUInt32BE(4 + header.length, 1);
    frame.writeUInt32BE(header.length, 5);
    header.copy(frame, 9);
    caller.socket.write(Buffer.concat([PREFACE, frame]));
    expect(frameError(await caller.reply()).code).toBe("protocol_error");
  });

  it("answers a framed call for another function's name with not_found", async () => {
    await using server = await serve(add, { name: "add" });
    expect(frameError(await framedCall(server.port, { x: 1, y: 2 }, { function: "subtract" })).code).toBe("not_found");
  });

  it("serves a framed call for its own name when the name is set", async () => {
    await using server = await serve(add, { name: "add" });
    expect(resultValue(await framedCall(server.port, { x: 1, y: 2 }, { function: "add" }))).toBe(3);
  });

  it('refuses arguments with a "__proto__" key as bad_arguments, before the function runs', async () => {
    let ran = false;
    await using server = await serve(() => {
      ran = true;
    });
    expect(legacyError(await legacyCall(server.port, '{"__proto__":{"polluted":true}}')).code).toBe("bad_arguments");
    expect(ran).toBe(false);
  });

  it("answers an empty legacy body with bad_arguments", async () => {
    await using server = await serve(add);
    expect(legacyError(await legacyCall(server.port, "")).code).toBe("bad_arguments");
  });
});

describe("slow callers: the read timeout frees the replica", () => {
  it("answers a caller that connects and sends nothing", async () => {
    await using server = await serve(add, { readTimeout: 200 });
    const socket = await open(server.port);
    const error = legacyError(await readAll(socket));
    expect(error.code).toBe("deadline_exceeded");
    expect(error.message).toContain("read timeout");
  });

  it("answers a legacy caller that trickles bytes", async () => {
    await using server = await serve(add, { readTimeout: 300 });
    const socket = await open(server.port);
    const reply = readAll(socket);
    const trickle = setInterval(() => socket.write(" "), 20);
    try {
      expect(legacyError(await reply).code).toBe("deadline_exceeded");
    } finally {
      clearInterval(trickle);
    }
  });

  it("answers a framed caller that trickles its call", async () => {
    await using server = await serve(add, { readTimeout: 300 });
    const socket = await open(server.port);
    const reply = readAll(socket);
    const bytes = Buffer.concat([PREFACE, encodeCall({ id: "slow", function: "add", deadline: Date.now() + 60_000 }, { x: 1, y: 2 })]);
    let offset = 0;
    const trickle = setInterval(() => {
      if (offset < bytes.length) socket.write(bytes.subarray(offset, (offset += 1)));
    }, 20);
    try {
      const [frame] = framesOf(await reply);
      expect(frame === undefined ? undefined : frameError(frame).code).toBe("deadline_exceeded");
    } finally {
      clearInterval(trickle);
    }
  });

  // Found by pnpm fuzz: a replica busy parsing a large call on another connection came back to a read timeout that
  // had passed meanwhile, before it read the bytes that had arrived in time, and answered a framed caller in the
  // 2017 format that its call "did not arrive".
  it("reads what arrived while the event loop was blocked before it times a caller out", async () => {
    const victim: { socket?: Socket } = {};
    const victimCall = Buffer.concat([PREFACE, encodeCall({ id: "victim", function: "add", deadline: Date.now() + 60_000 }, { x: 1, y: 2 })]);
    await using server = await serve(
      (args: { x: number; y: number; block?: boolean }) => {
        if (args.block === true) {
          // The victim's call arrives in time, while this call holds the event loop past the victim's read timeout.
          victim.socket?.end(victimCall);
          const blockedUntil = Date.now() + 300;
          while (Date.now() < blockedUntil) {
            // blocking, as a large body parsed on another connection does
          }
        }
        return args.x + args.y;
      },
      { readTimeout: 100, mode: "reuse", concurrency: 2 },
    );
    victim.socket = await open(server.port);
    const reply = readAll(victim.socket);
    // Long enough for the replica to have accepted the victim's connection and started its read timeout.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(resultValue(await framedCall(server.port, { x: 1, y: 2, block: true }))).toBe(3);
    const [frame] = framesOf(await reply);
    expect(frame?.type === "result" ? resultValue(frame) : frame).toBe(3);
  });

  it("serves the next caller after a silent one timed out (reuse mode)", async () => {
    await using server = await serve(add, { readTimeout: 200, mode: "reuse" });
    const silent = await open(server.port);
    await readAll(silent);
    expect(resultValue(await framedCall(server.port, { x: 1, y: 2 }))).toBe(3);
  });
});

describe("the caller goes away", () => {
  it("fires the abort signal when a framed caller disconnects mid-call, and serves the next caller", async () => {
    const started = deferred();
    const aborted = deferred<unknown>();
    await using server = await serve(
      (args: { wait: boolean }, context) => {
        if (!args.wait) return "next";
        started.resolve();
        return new Promise((_resolve, reject) => {
          context.signal.addEventListener("abort", () => {
            aborted.resolve(context.signal.reason);
            reject(context.signal.reason);
          });
        });
      },
      { mode: "reuse" },
    );
    const caller = await FramedCaller.open(server.port);
    caller.send({ wait: true });
    await started.promise;
    caller.socket.destroy();
    expect(await aborted.promise).toMatchObject({ code: "cancelled" });
    expect(resultValue(await framedCall(server.port, { wait: false }))).toBe("next");
  });
});

describe("errors that JSON cannot carry whole", () => {
  // Regression: encoding such an error threw outside the call, so the caller got no reply at all.
  const throwsUnencodable = () => {
    const cause = Object.assign(new Error("upstream"), { data: { retryAfter: Number.NaN } });
    throw new FunkerError("bad_arguments", "try later", { data: { attempts: 3n }, cause });
  };

  it("still reach a framed caller, with their code and message, and say what was left out", async () => {
    await using server = await serve(throwsUnencodable);
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "bad_arguments", message: "try later" });
    expect(JSON.stringify(error.data)).toContain("could not be sent");
  });

  it("still reach a 2017 caller as the legacy error object", async () => {
    await using server = await serve(throwsUnencodable);
    expect(legacyError(await legacyCall(server.port, "{}"))).toMatchObject({ code: "bad_arguments", message: "try later" });
  });

  // Regression: a cause's data was checked more loosely than the encoder checks it, so NaN in a
  // cause's data passed, failed the encoding, and cost the caller every cause and the error's data.
  it("lose only the data JSON cannot carry, from the cause that holds it", async () => {
    await using server = await serve(() => {
      const cause = Object.assign(new Error("upstream"), { code: "E_UPSTREAM", data: { retryAfter: Number.NaN } });
      throw Object.assign(new Error("could not reach upstream", { cause }), { data: { attempts: 3 } });
    }, { exposeStacks: false });
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "handler_error", message: "could not reach upstream", data: { attempts: 3 } });
    expect(error.cause).toEqual({ name: "Error", message: "upstream", code: "E_UPSTREAM" });
  });
});

describe("a function that lets a not-delivered error of its own calls escape", () => {
  // Regression: `unavailable` from a nested call reached the caller as is, which reads "not delivered,
  // try another replica", so a function that had run could be run again.
  it("reports handler_error, with the original error as the cause", async () => {
    await using server = await serve(
      () => {
        throw new FunkerError("unavailable", 'every replica of "inventory" was busy');
      },
      { mode: "reuse" },
    );
    const error = frameError(await framedCall(server.port, {}));
    expect(error).toMatchObject({ code: "handler_error", cause: { code: "unavailable", message: 'every replica of "inventory" was busy' } });
    expect(legacyError(await legacyCall(server.port, "{}"))).toMatchObject({ code: "handler_error" });
  });
});

describe("a log sink that throws", () => {
  it("costs neither the call nor the replica", async () => {
    const add = ({ x, y }: { x: number; y: number }) => x + y;
    await using server = await serve(add, {
      mode: "reuse",
      log: () => {
        throw new Error("log shipper unavailable");
      },
    });
    expect(resultValue(await framedCall(server.port, { x: 1, y: 2 }))).toBe(3);
    expect(resultValue(await framedCall(server.port, { x: 2, y: 2 }))).toBe(4);
    expect(legacyError(await legacyCall(server.port, "{not json"))).toMatchObject({ code: "bad_arguments" });
  });
});
