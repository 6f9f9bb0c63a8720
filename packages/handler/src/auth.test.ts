import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeJson, prefaceFor } from "@funker/protocol";
import type { CallAuth, CallHeader, Frame, HelloFrame } from "@funker/protocol";
import { writeCallFrame } from "@funker/protocol/internal";
import { KeyRing, digestArguments, signCall } from "@funker/node-utils";
import { FramedCaller, frameError, legacyCall, legacyError, resultValue, serve } from "../test-support/wire.js";
import { HandlerOptionsError, resolveOptions } from "./options.js";

const KEY = "a-shared-key-of-32-characters-xx";
const OTHER_KEY = "another-key-nobody-here-holds-00";
const folder = mkdtempSync(join(tmpdir(), "funker-auth-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A function that counts the calls it ran, so that a test sees "the function did not run". */
function counted() {
  const ran: string[] = [];
  const fn = (args: { x: number; y: number }, context: { id: string }) => {
    ran.push(context.id);
    return args.x + args.y;
  };
  return { ran, fn };
}

interface SignedFrameOptions {
  key?: string;
  timestamp?: number;
  header?: Partial<CallHeader>;
  /** Signs these arguments but sends `args`: a call changed in transit. */
  signedArgs?: unknown;
}

/** A version 2 CALL frame signed as the client signs it. */
function signedFrame(args: unknown, options: SignedFrameOptions = {}): { frame: Uint8Array; header: CallHeader } {
  const body = encodeJson(args);
  const header: CallHeader = { id: `call-${Math.random().toString(36).slice(2)}`, function: "add", deadline: Date.now() + 30_000, ...options.header };
  const ring = new KeyRing({ kind: "text", text: options.key ?? KEY, origin: "test" });
  const signedBody = options.signedArgs === undefined ? body : encodeJson(options.signedArgs);
  const auth: CallAuth = signCall(ring, header, digestArguments(signedBody), options.timestamp ?? Date.now());
  return { frame: writeCallFrame({ ...header, auth }, body, 2), header };
}

/** Sends one version 2 call on a new connection and returns the handler's reply (its HELLO skipped). */
async function reply(port: number, frame: Uint8Array): Promise<Frame> {
  await using caller = await FramedCaller.open(port, 2);
  caller.socket.write(Buffer.concat([prefaceFor(2), frame]));
  return await caller.reply();
}

/** The error of a refusal: an ERROR frame that says the function did not run. */
function refusal(frame: Frame): ReturnType<typeof frameError> {
  expect(frame).toMatchObject({ type: "error", refused: true });
  return frameError(frame);
}

describe("a handler with keys runs only calls signed with one of them", () => {
  it("says in its HELLO that calls must be signed", async () => {
    await using server = await serve(counted().fn, { secret: KEY, mode: "reuse" });
    await using caller = await FramedCaller.open(server.port, 2);
    caller.send({ x: 1, y: 2 }, { function: "add" });
    await caller.waitFor((frames) => frames.some((frame) => frame.type === "hello"));
    const hello = caller.frames.find((frame) => frame.type === "hello") as HelloFrame;
    expect(hello.authRequired).toBe(true);
  });

  it("runs a call signed with its key", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const { frame, header } = signedFrame({ x: 1, y: 2 });
    expect(resultValue(await reply(server.port, frame))).toBe(3);
    expect(ran).toEqual([header.id]);
  });

  it("refuses an unsigned call with unauthenticated, and the function does not run", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const frame = writeCallFrame({ id: "unsigned", function: "add", deadline: Date.now() + 30_000 }, encodeJson({ x: 1, y: 2 }), 2);
    const error = refusal(await reply(server.port, frame));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("carries no signature");
    expect(ran).toEqual([]);
  });

  it("refuses a call signed with a key it does not hold", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const error = refusal(await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: OTHER_KEY }).frame));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("does not hold");
    expect(ran).toEqual([]);
  });

  it("refuses a call whose arguments were changed after signing", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const error = refusal(await reply(server.port, signedFrame({ x: 1, y: 1_000 }, { signedArgs: { x: 1, y: 2 } }).frame));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("does not match");
    expect(ran).toEqual([]);
  });

  it("refuses a call whose function name was changed after signing", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const body = encodeJson({ x: 1, y: 2 });
    const header = { id: "renamed", function: "add", deadline: Date.now() + 30_000 };
    const auth = signCall(new KeyRing({ kind: "text", text: KEY, origin: "test" }), { ...header, function: "refund" }, digestArguments(body));
    const error = refusal(await reply(server.port, writeCallFrame({ ...header, auth }, body, 2)));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(ran).toEqual([]);
  });

  it("refuses a call signed further from its clock than the skew, in either direction", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse", secretSkew: "5s" });
    const stale = refusal(await reply(server.port, signedFrame({ x: 1, y: 2 }, { timestamp: Date.now() - 6_000 }).frame));
    expect(stale).toMatchObject({ code: "unauthenticated" });
    expect(stale.message).toMatch(/signed 6\.\d s before this replica's clock, beyond the allowed skew of 5\.0 s/);
    const early = refusal(await reply(server.port, signedFrame({ x: 1, y: 2 }, { timestamp: Date.now() + 60_000 }).frame));
    expect(early.message).toMatch(/after this replica's clock/);
    expect(ran).toEqual([]);
    // Within the skew: runs.
    expect(resultValue(await reply(server.port, signedFrame({ x: 1, y: 2 }, { timestamp: Date.now() - 4_000 }).frame))).toBe(3);
  });

  it("refuses a replay of a call it ran, on another connection", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const { frame, header } = signedFrame({ x: 1, y: 2 });
    expect(resultValue(await reply(server.port, frame))).toBe(3);
    const error = refusal(await reply(server.port, frame));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("already accepted");
    expect(ran).toEqual([header.id]);
  });

  it("runs the same call id signed again (a client's retry), but not its first signature replayed", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const first = signedFrame({ x: 1, y: 2 }, { header: { id: "retried" }, timestamp: Date.now() - 10 });
    const again = signedFrame({ x: 1, y: 2 }, { header: { id: "retried", deadline: first.header.deadline } });
    expect(resultValue(await reply(server.port, first.frame))).toBe(3);
    expect(resultValue(await reply(server.port, again.frame))).toBe(3);
    expect(refusal(await reply(server.port, first.frame)).code).toBe("unauthenticated");
    expect(ran).toEqual(["retried", "retried"]);
  });

  it("refuses a 2017 caller, whose format carries no signature", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    const error = legacyError(await legacyCall(server.port, '{"x":1,"y":2}'));
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("2017 format carries no signature");
    expect(ran).toEqual([]);
  });

  it("refuses a protocol version 1 call, which carries no signature", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse" });
    await using caller = await FramedCaller.open(server.port, 1);
    caller.send({ x: 1, y: 2 }, { function: "add" });
    const error = frameError(await caller.reply());
    expect(error).toMatchObject({ code: "unauthenticated" });
    expect(error.message).toContain("version 1 carries no signature");
    expect(ran).toEqual([]);
  });

  it("never puts a key in a refusal or in its log", async () => {
    const lines: unknown[] = [];
    await using server = await serve(counted().fn, { secret: `${KEY}\n${OTHER_KEY}`, mode: "reuse", log: (line) => lines.push(line) });
    const replies = [
      await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: "a-key-the-handler-does-not-have" }).frame),
      await reply(server.port, signedFrame({ x: 1, y: 2 }, { signedArgs: { x: 2 } }).frame),
      await reply(server.port, signedFrame({ x: 1, y: 2 }, { timestamp: 0 }).frame),
    ];
    const text = JSON.stringify([replies.map((frame) => frameError(frame)), lines]);
    expect(lines.length).toBe(3);
    expect(text).not.toContain(KEY);
    expect(text).not.toContain(OTHER_KEY);
    expect(text).not.toContain("a-key-the-handler-does-not-have");
  });
});

describe("keys from a file, and rotation", () => {
  it("accepts every key of its file and picks up a change to the file", async () => {
    const file = join(folder, "rotating.key");
    writeFileSync(file, `# the key in use\n${KEY}\n`);
    const { ran, fn } = counted();
    await using server = await serve(fn, { secretFile: file, mode: "reuse" });
    expect(resultValue(await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: KEY }).frame))).toBe(3);
    expect(refusal(await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: OTHER_KEY }).frame)).code).toBe("unauthenticated");

    // Step one of a rotation: the new key is added everywhere (here, as the first line).
    writeFileSync(file, `${OTHER_KEY}\n${KEY}\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    await waitUntilAccepted(server.port, OTHER_KEY);
    expect(resultValue(await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: KEY }).frame))).toBe(3);

    // Last step: the old key leaves.
    writeFileSync(file, `${OTHER_KEY}\n`);
    utimesSync(file, new Date(), new Date(Date.now() + 10_000));
    await waitUntilRefused(server.port, KEY);
    expect(resultValue(await reply(server.port, signedFrame({ x: 1, y: 2 }, { key: OTHER_KEY }).frame))).toBe(3);
    expect(ran.length).toBeGreaterThanOrEqual(4);
  });

  it("does not start without a readable key file, and says which", () => {
    const missing = join(folder, "missing.key");
    expect(() => resolveOptions({ secretFile: missing }, {})).toThrow(HandlerOptionsError);
    expect(() => resolveOptions({}, { FUNKER_SECRET_FILE: missing })).toThrow(/FUNKER_SECRET_FILE .*missing\.key.*no such file/);
  });

  it("refuses a key shorter than 16 characters without echoing it", () => {
    expect(() => resolveOptions({}, { FUNKER_SECRET: "hunter2" })).toThrow(/FUNKER_SECRET: the key on line 1 has 7 characters; a key needs at least 16/);
    expect(() => resolveOptions({}, { FUNKER_SECRET: "hunter2" })).not.toThrow(/hunter2/);
  });

  it("takes its own function's key file from FUNKER_SECRET_FILES over FUNKER_SECRET_FILE", () => {
    const own = join(folder, "own.key");
    const shared = join(folder, "shared.key");
    writeFileSync(own, `${OTHER_KEY}\n`);
    writeFileSync(shared, `${KEY}\n`);
    const options = resolveOptions({}, { FUNKER_FUNCTION: "payments", FUNKER_SECRET_FILE: shared, FUNKER_SECRET_FILES: `payments=${own};other=${shared}` });
    expect(options.keys?.origin).toContain(own);
    const unnamed = resolveOptions({}, { FUNKER_FUNCTION: "add", FUNKER_SECRET_FILE: shared, FUNKER_SECRET_FILES: `payments=${own}` });
    expect(unnamed.keys?.origin).toContain(shared);
  });

  it("keeps the skew at 10 minutes or less", () => {
    expect(() => resolveOptions({ secretSkew: "11m" }, {})).toThrow(/at most 10 minutes/);
    expect(resolveOptions({}, {}).secretSkewMs).toBe(30_000);
  });
});

describe("the replay window is bounded", () => {
  it("forgets the oldest calls when full, and then refuses calls signed before them instead of running a replay", async () => {
    const { ran, fn } = counted();
    await using server = await serve(fn, { secret: KEY, mode: "reuse", replayWindow: 1_000 });
    await using caller = await FramedCaller.open(server.port, 2);
    const now = Date.now();
    const frames = Array.from({ length: 1_001 }, (_, index) => signedFrame({ x: index, y: 0 }, { header: { id: `c${index}` }, timestamp: now - 2_000 + index }));
    const first = frames[0] as { frame: Uint8Array };
    caller.socket.write(prefaceFor(2));
    for (const { frame } of frames) {
      caller.socket.write(frame);
      expect((await caller.reply()).type).toBe("result");
    }
    expect(ran.length).toBe(1_001);
    // c0 left the window when c1000 came in; its replay is refused all the same.
    const replay = refusal(await reply(server.port, first.frame));
    expect(replay).toMatchObject({ code: "unauthenticated" });
    expect(replay.message).toContain("replay window is full");
    expect(ran.length).toBe(1_001);
  });
});

async function waitUntilAccepted(port: number, key: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const frame = await reply(port, signedFrame({ x: 1, y: 2 }, { key }).frame);
    if (frame.type === "result") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the new key was never accepted");
}

async function waitUntilRefused(port: number, key: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const frame = await reply(port, signedFrame({ x: 1, y: 2 }, { key }).frame);
    if (frame.type === "error") return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the removed key was still accepted");
}
