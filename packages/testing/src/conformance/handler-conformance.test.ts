import { createServer } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { handler } from "@funker/handler";
import { FrameDecoder, encodeHeartbeat, encodeHello, encodeJson, encodeResult } from "@funker/protocol";
import type { CallFrame } from "@funker/protocol";
import { start2017Function } from "@funker/test-utils";
import { freePort } from "../harness.js";
import { conformanceFunction } from "./conformance-function.js";
import { runHandlerConformance } from "./handler-conformance.js";
import type { HandlerConformanceOptions, HandlerUnderTest } from "./handler-conformance.js";
import type { ConformanceReport } from "./report.js";

/** Funker's own handler, started fresh for each check; `name` other than "conformance" is a user's mistake. */
function ownHandler(name = "conformance"): HandlerConformanceOptions["start"] {
  return async (mode) => {
    const server = handler(conformanceFunction, { name, mode, port: 0, host: "127.0.0.1", exit: false, log: false });
    const { host, port } = await server.ready;
    return { host, port, stop: () => server.close() };
  };
}

function summary(report: ConformanceReport): string {
  return report.failures.map((failure) => `${failure.id}: ${failure.failure}`).join("\n");
}

/** The one failure of a run of one check: its message. */
function onlyFailure(report: ConformanceReport, id: string): string {
  expect(report.results.map((result) => result.id)).toEqual([id]);
  expect(report.failures).toHaveLength(1);
  return report.failures[0]?.failure ?? "";
}

type Request = { readonly wire: "framed"; readonly call: CallFrame } | { readonly wire: "legacy"; readonly body: Buffer };

/**
 * A handler that misbehaves on purpose, one way per test: `answer` gets
 * each connection's request (a framed call as soon as its CALL frame is
 * whole, a 2017 request at the half-close) and its socket.
 */
/** `hello`: it speaks version 2 as far as sending the HELLO; what it answers next is the test's. */
function misbehavingHandler(answer: (request: Request, socket: Socket) => void, { hello = false } = {}): HandlerConformanceOptions["start"] {
  return async () => {
    const sockets = new Set<Socket>();
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      const chunks: Buffer[] = [];
      const decoder = new FrameDecoder({ expectPreface: true });
      let answered = false;
      let greeted = false;
      const framed = () => chunks[0]?.[0] === 0;
      socket.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (!framed() || answered) return;
        let call: CallFrame | undefined;
        try {
          const frames = decoder.push(chunk);
          if (hello && !greeted && decoder.version === 2) {
            greeted = true;
            socket.write(encodeHello());
          }
          call = frames.find((frame): frame is CallFrame => frame.type === "call");
        } catch {
          return; // bytes no call is made of (a bad preface): this handler says nothing
        }
        if (call === undefined) return;
        answered = true;
        answer({ wire: "framed", call }, socket);
      });
      socket.on("end", () => {
        if (framed() || answered) return;
        answered = true;
        answer({ wire: "legacy", body: Buffer.concat(chunks) }, socket);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return {
      host: "127.0.0.1",
      port: (server.address() as AddressInfo).port,
      stop: async () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  };
}

/** Runs one check against `start`, with short exchanges: every target here fails fast or stays silent. */
async function runOne(id: string, start: HandlerConformanceOptions["start"]): Promise<string> {
  const report = await runHandlerConformance({ start, only: new RegExp(`^${id.replaceAll(".", "\\.")}$`), checkTimeoutMs: 300 });
  return onlyFailure(report, id);
}

describe("handler conformance", () => {
  it("Funker's handler passes every check, in both modes", async () => {
    const report = await runHandlerConformance({ start: ownHandler() });
    expect(summary(report)).toBe("");
    expect(report.passed).toBe(true);
    expect(report.results.length).toBeGreaterThanOrEqual(20);
    expect(report.results.map((result) => result.id)).toEqual(expect.arrayContaining(["single-shot.refuse-while-busy", "reuse.busy", "framed.cancel"]));
  });

  it("fails a 2017 function, saying what came instead of each answer and why", async () => {
    // The 2017 library's `add`, in a child process per check: it waits for a
    // framed caller's half-close forever, so the exchanges are kept short.
    const start = async (): Promise<HandlerUnderTest> => {
      const fn = await start2017Function("add");
      return { host: "127.0.0.1", port: fn.port, stop: async () => await fn[Symbol.asyncDispose]() };
    };
    const report = await runHandlerConformance({ start, modes: ["single-shot"], checkTimeoutMs: 300 });
    const failures = new Map(report.failures.map((failure) => [failure.id, failure.failure ?? ""]));
    // What the 2017 format does get right passes, and nothing else.
    expect(report.results.filter((result) => result.passed).map((result) => result.id)).toEqual(["legacy.result"]);

    expect(failures.get("framed.result")).toMatch(
      /^expected the RESULT 3 for call "c-\w+" within 300 ms; instead silence for \d+ ms: not a byte came back\. Likely cause: the target does not answer framed calls: is it a 2017 handler \(which waits for the caller to half-close\)\? .*callers must call it with protocol: "legacy"\.$/,
    );
    // Bad JSON kills a 2017 function's process: the caller reads an empty reply.
    expect(failures.get("legacy.bad-json")).toBe(
      'expected the legacy error object {"funkerError":{"code":"bad_arguments",…}}; instead an empty reply (the connection was closed by the target after 0 bytes). ' +
        "Likely cause: an empty reply is the 2017 format's way to fail: the function threw or the process died; a Funker handler answers with the legacy error object instead (PROTOCOL.md 3.1).",
    );
    // `add` of { op: "fail" } is NaN, which JSON.stringify writes as null.
    expect(failures.get("legacy.handler-error")).toMatch(/^expected the legacy error object \{"funkerError":\{"code":"handler_error",…\}\}; instead the value null\. Likely cause: a function that throws/);
    // A check about one rule names that rule, and the 2017 guess since nothing came at all.
    expect(failures.get("framed.deadline")).toMatch(/Likely cause: the handler ends a call at its deadline.*\(PROTOCOL\.md 6\.3\); if no framed check passes, the target does not answer framed calls/);
    expect(failures.get("single-shot.refuse-while-busy")).toMatch(/^expected a second caller to be refused \(ECONNREFUSED\) while the first call runs; instead the second connection was accepted\./);
  }, 60_000);

  it("names a close before any frame", async () => {
    const failure = await runOne("framed.result", misbehavingHandler((_request, socket) => socket.end()));
    expect(failure).toMatch(/^expected the RESULT 3 for call "c-\w+" within 300 ms; instead the connection was closed by the target after 0 bytes\. Likely cause: the target closed the connection without answering/);
    expect(failure).toContain("a Funker handler answers every call with a RESULT or an ERROR frame (PROTOCOL.md 5.3)");
  });

  it("names a reset", async () => {
    const failure = await runOne("framed.result", misbehavingHandler((_request, socket) => socket.resetAndDestroy()));
    expect(failure).toMatch(/; instead the connection was reset \(ECONNRESET\) after 0 bytes\. Likely cause: the target's process died with bytes of the call unread/);
  });

  it("names the frames that came before a close without a reply", async () => {
    const failure = await runOne(
      "framed.result",
      misbehavingHandler((request, socket) => {
        if (request.wire === "framed") socket.end(encodeHeartbeat(request.call.id));
      }, { hello: true }),
    );
    expect(failure).toMatch(/; instead the connection was closed by the target after \d+ bytes: a HELLO \(version 2\), a HEARTBEAT for call "c-\w+"\. Likely cause: the handler closed the connection without a RESULT or an ERROR/);
  });

  it("shows bytes that do not decode as frames, in hex and as text, and reads plain JSON as a 2017 answer", async () => {
    const failure = await runOne("framed.result", misbehavingHandler((_request, socket) => socket.end("3")));
    expect(failure).toBe(
      'expected the RESULT 3 for call "' +
        /call "(c-\w+)"/.exec(failure)?.[1] +
        '" within 300 ms; instead 1 byte (33, as text "3"), which do not decode as frames (protocol_error: the stream ended inside a frame (1 bytes left over)), then the connection was closed by the target. ' +
        "Likely cause: the target answered a framed call with plain JSON, as it would a 2017 caller: a first byte 0x00 (NUL) marks a framed caller, whose replies are frames (PROTOCOL.md 4, 5.2).",
    );
  });

  it("reads a legacy error object sent to a framed call as a 2017 answer", async () => {
    const failure = await runOne("framed.wrong-function", misbehavingHandler((_request, socket) => socket.end('{"funkerError":{"code":"bad_arguments","message":"not JSON"}}')));
    expect(failure).toMatch(/^expected an ERROR not_found for call "c-\w+" within 300 ms; instead 61 bytes \(7b 22 66 75 6e .* …, as text .* …\), which do not decode as frames \(protocol_error: unknown frame type 0x7b\)\./);
    expect(failure).toContain("Likely cause: the target answered a framed call with plain JSON, as it would a 2017 caller");
  });

  it("recognises an HTTP server", async () => {
    const failure = await runOne("framed.result", misbehavingHandler((_request, socket) => socket.end("HTTP/1.1 400 Bad Request\r\n\r\n")));
    expect(failure).toContain('instead 28 bytes (48 54 54 50 2f 31 2e 31 20 34 30 30 20 42 61 64 20 52 65 71 75 65 73 74 …, as text "HTTP/1.1 400 Bad Request" …)');
    expect(failure).toContain("Likely cause: the target speaks HTTP: the address belongs to another server, not a Funker function.");
  });

  it("names a reply for another call id", async () => {
    const failure = await runOne(
      "framed.result",
      misbehavingHandler((request, socket) => {
        if (request.wire === "framed") socket.end(encodeResult("someone-else", 3));
      }, { hello: true }),
    );
    expect(failure).toMatch(/^expected a reply for call "c-\w+"; instead a RESULT frame for call "someone-else"\. Likely cause: every frame about a call carries the CALL's id, copied as it came \(PROTOCOL\.md 6\.1\)\.$/);
  });

  it("names frames sent to a 2017 caller", async () => {
    const failure = await runOne("legacy.result", misbehavingHandler((_request, socket) => socket.end(encodeResult("", 3))));
    expect(failure).toMatch(/^expected the value 3; instead \d+ bytes \(02 00 00 00 .*\), which are not a JSON text\. Likely cause: the target answered a 2017 call with frames/);
  });

  it("names the rule a wrong answer breaks", async () => {
    // Runs the function on arguments that are not JSON, instead of refusing them.
    const failure = await runOne(
      "framed.bad-arguments",
      misbehavingHandler((request, socket) => {
        if (request.wire === "framed") socket.end(encodeResult(request.call.id, null));
      }, { hello: true }),
    );
    expect(failure).toBe(
      "expected an ERROR bad_arguments (refused); instead a RESULT null. Likely cause: arguments that are not valid JSON are bad_arguments, refused before the function runs (PROTOCOL.md 5.3, CALL).",
    );
  });

  it("says when a handler serves the conformance function under another name", async () => {
    const failure = await runOne("framed.result", ownHandler("add"));
    expect(failure).toMatch(/^expected the RESULT 3; instead an ERROR not_found \(refused\): ".*"\. Likely cause: the handler serves another function: serve conformanceFunction .*under the name "conformance"\.$/);
  });

  it("says when the handler cannot be reached", async () => {
    const port = await freePort();
    const failure = await runOne("framed.result", async () => ({ host: "127.0.0.1", port, stop: async () => undefined }));
    expect(failure).toMatch(new RegExp(`^expected a connection to 127\\.0\\.0\\.1:${port}; instead the connection failed \\(ECONNREFUSED\\)\\. Likely cause: start\\(\\) resolved before the handler listened`));
  });

  it("reports a start() that throws as that check's failure", async () => {
    const failure = await runOne("framed.result", () => Promise.reject(new Error("no such binary")));
    expect(failure).toBe('expected start("single-shot") to start a handler; instead it failed: no such binary.');
  });

  it("names a 2017 reply that is not JSON", async () => {
    const failure = await runOne("legacy.bad-json", misbehavingHandler((_request, socket) => socket.end(encodeJson("ok").subarray(0, 3))));
    expect(failure).toMatch(/^expected the legacy error object .*; instead 3 bytes \(22 6f 6b, as text "\\"ok"\), which are not a JSON text\. Likely cause: a 2017 reply is one JSON text in UTF-8 and nothing else/);
  });
});
