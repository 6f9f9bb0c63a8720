/** One case over a real TCP connection to the replica. */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { FrameDecoder, decodeJson, decodeLegacyReply, prefaceFor } from "@funker/protocol";
import { callFrame, concat, utf8 } from "./corpus.js";
import type { Exchange } from "./judge.js";
import type { FuzzCase } from "./mutate.js";

/** For the time limits raced against an answer: a limit that lost must not keep the program alive after the run. */
export const unref = { ref: false } as const;

export interface ExchangeLimits {
  /** How long a half-closed case may wait for the replica's reply and close. */
  readonly replyTimeoutMs: number;
  /** How long a case that stays open waits for the replica before the caller goes away. */
  readonly settleMs: number;
}

export async function exchange(port: number, testCase: Pick<FuzzCase, "bytes" | "halfClose" | "chunks" | "drip">, limits: ExchangeLimits): Promise<Exchange> {
  const socket = connect({ port, host: "127.0.0.1", noDelay: true });
  const received: Buffer[] = [];
  let reset = false;
  let refused = false;
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  socket.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "ECONNREFUSED") refused = true;
    else if (error.code === "ECONNRESET") reset = true;
  });
  const closed = new Promise<true>((resolve) => socket.once("close", () => resolve(true)));
  await Promise.race([new Promise((resolve) => socket.once("connect", resolve)), closed]);
  if (refused) return { reply: new Uint8Array(0), ended: "refused" };
  const { bytes } = testCase;
  let offset = 0;
  for (const size of testCase.chunks) {
    if (socket.destroyed || socket.writableEnded) break;
    socket.write(bytes.subarray(offset, offset + size));
    offset += size;
    await (testCase.drip ? sleep(1) : new Promise((resolve) => setImmediate(resolve)));
  }
  if (!socket.destroyed) {
    if (testCase.halfClose) socket.end(bytes.subarray(offset));
    else socket.write(bytes.subarray(offset));
  }
  const waited = await Promise.race([closed, sleep(testCase.halfClose ? limits.replyTimeoutMs : limits.settleMs, false, unref)]);
  socket.destroy();
  const reply = Uint8Array.from(Buffer.concat(received));
  if (waited) return { reply, ended: reset ? "reset" : "closed" };
  return { reply, ended: testCase.halfClose ? "timed-out" : "left-open" };
}

/** A valid call, framed (version 2) or in the 2017 format; resolves with what came back, described. */
export async function validCall(port: number, wire: "framed" | "legacy", limits: ExchangeLimits): Promise<string> {
  if (wire === "legacy") {
    const { reply, ended } = await exchange(port, { bytes: utf8('{"x":1,"y":2}'), halfClose: true, chunks: [], drip: false }, limits);
    if (ended !== "closed") return `the 2017 call ${ended}`;
    const decoded = decodeLegacyReply(reply);
    return decoded.ok ? JSON.stringify(decoded.value) : `error ${decoded.error.code}`;
  }
  const socket = connect({ port, host: "127.0.0.1", noDelay: true });
  socket.on("error", () => undefined);
  const decoder = new FrameDecoder({ version: 2, expectHello: true });
  const answer = new Promise<string>((resolve) => {
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (frame.type === "result") resolve(JSON.stringify(decodeJson(frame.body)));
          if (frame.type === "error") resolve(`error ${frame.error.code}`);
        }
      } catch (error) {
        resolve(`the reply does not decode: ${(error as Error).message}`);
      }
    });
    socket.once("close", () => resolve("closed without an answer"));
  });
  socket.write(concat([prefaceFor(2), callFrame(2, utf8('{"x":1,"y":2}'), "valid")]));
  const outcome = await Promise.race([answer, sleep(limits.replyTimeoutMs, "no answer in time", unref)]);
  socket.destroy();
  return outcome;
}
