import { describe, expect, it } from "vitest";
import { PREFACE, encodeCancel, encodeError, encodeHello, encodeResult, prefaceFor } from "@funker/protocol";
import { callFrame, concat, utf8 } from "./corpus.js";
import { judge } from "./judge.js";

const call = concat([PREFACE, callFrame(2, utf8('{"x":1,"y":2}'))]);
const hello = encodeHello({ functionName: "add" });

describe("judging a replica's answer", () => {
  it("takes a RESULT or an ERROR after the HELLO as an answer", () => {
    expect(judge(call, true, { reply: concat([hello, encodeResult("fuzz-1", 3)]), ended: "closed" })).toEqual({ ok: true, answer: "result" });
    const refused = encodeError("", { code: "protocol_error", message: "bad" }, { refused: true });
    expect(judge(call, true, { reply: concat([hello, refused]), ended: "closed" })).toEqual({ ok: true, answer: "error protocol_error" });
  });

  it("fails a whole call answered with nothing but the HELLO", () => {
    expect(judge(call, true, { reply: hello, ended: "closed" })).toMatchObject({ ok: false, problem: expect.stringContaining("owed an answer") });
  });

  it("lets a replica close without a word on a stream that ended before its first whole frame, or held only a CANCEL", () => {
    expect(judge(call.subarray(0, 12), true, { reply: hello, ended: "closed" })).toEqual({ ok: true, answer: "closed before a whole frame" });
    expect(judge(prefaceFor(2).subarray(0, 3), true, { reply: new Uint8Array(0), ended: "closed" })).toMatchObject({ ok: true });
    expect(judge(concat([PREFACE, encodeCancel("gone")]), true, { reply: hello, ended: "closed" })).toMatchObject({ ok: true });
  });

  it("fails a 2017 request answered with nothing, or with what is not JSON", () => {
    expect(judge(utf8('{"x":1}'), true, { reply: new Uint8Array(0), ended: "closed" })).toMatchObject({ ok: false });
    expect(judge(utf8('{"x":1}'), true, { reply: utf8("{oops"), ended: "closed" })).toMatchObject({ ok: false });
    expect(judge(utf8('{"x":1}'), true, { reply: utf8("3"), ended: "closed" })).toEqual({ ok: true, answer: "2017 value" });
  });

  it("fails a framed stream answered in the 2017 format, and a case that got no answer in time", () => {
    expect(judge(call, true, { reply: utf8('{"funkerError":{"code":"deadline_exceeded","message":"late"}}'), ended: "closed" })).toMatchObject({ ok: false });
    expect(judge(call, true, { reply: hello, ended: "timed-out" })).toMatchObject({ ok: false });
  });

  it("asks nothing of a case that did not half-close", () => {
    expect(judge(call, false, { reply: new Uint8Array(0), ended: "left-open" })).toEqual({ ok: true, answer: "left open" });
  });
});
