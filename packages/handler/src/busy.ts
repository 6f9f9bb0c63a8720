import type { Socket } from "node:net";
import { FrameDecoder, FunkerError, detectWireMode, encodeError, encodeLegacyError, hasLegacyMark, withLegacyMark } from "@funker/protocol";
import type { ProtocolVersion, WireMode } from "@funker/protocol";
import { helloFor } from "./hello.js";
import type { ConnectionHost } from "./host.js";
import { LINGER_MS } from "./linger.js";

/** How long a caller refused as busy has to send its first bytes, so that it is answered in its own protocol. */
const BUSY_READ_MS = 1_000;

/**
 * Answers a caller that arrived while every slot was busy: waits briefly for
 * its first bytes so that it is answered in its own protocol, sends
 * `unavailable` (the call did not run, so the caller may try another replica
 * at once) and closes.
 */
export function answerBusy(socket: Socket, host: Pick<ConnectionHost, "record" | "options">, message = "the replica is busy; try another replica"): Promise<void> {
  const acceptedAt = Date.now();
  return new Promise((resolve) => {
    let answered = false;
    const error = new FunkerError("unavailable", message).toWire();
    const answer = (mode: WireMode | undefined, id: string, reply: () => Uint8Array): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      host.record({ id, functionName: undefined, protocol: mode, durationMs: Date.now() - acceptedAt, error, served: false });
      if (!socket.destroyed) socket.end(reply());
      // Drain what the caller still sends, so that closing does not reset the connection under the reply.
      socket.resume();
      const linger = setTimeout(() => socket.destroy(), LINGER_MS);
      linger.unref();
      socket.once("close", () => clearTimeout(linger));
    };
    const silent = (): Uint8Array => encodeLegacyError(error);
    const timer = setTimeout(() => answer(undefined, "", silent), BUSY_READ_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => undefined);
    socket.once("data", (chunk: Buffer) => {
      const mode = detectWireMode(chunk);
      if (mode === "legacy") {
        const marked = hasLegacyMark(chunk);
        answer(mode, "", () => (marked ? withLegacyMark(encodeLegacyError(error)) : encodeLegacyError(error)));
        return;
      }
      let id = "";
      const decoder = new FrameDecoder({ expectPreface: true });
      try {
        const first = decoder.push(chunk)[0];
        if (first?.type === "call") id = first.id;
      } catch {
        // Garbage after a NUL byte still gets the busy answer, without an id.
      }
      // A version 2 caller reads a HELLO before anything else; any other gets a version 1 ERROR.
      const version: ProtocolVersion = decoder.version ?? 1;
      answer(mode, id, () => {
        const busy = encodeError(id, error, { refused: true, version });
        if (version === 1) return busy;
        const hello = helloFor(host.options);
        const both = new Uint8Array(hello.length + busy.length);
        both.set(hello);
        both.set(busy, hello.length);
        return both;
      });
    });
    socket.once("end", () => answer(undefined, "", silent));
  });
}

/**
 * Callers being refused at once, beyond `maxConnections`: each refusal holds
 * its connection for up to a second (to answer in the caller's protocol) and
 * a linger, so a flood of callers would otherwise hold descriptors without
 * bound. Past it, a connection is closed without a word, which a Funker
 * client also reads as "not delivered" (PROTOCOL.md 6.4).
 */
export const REFUSING_AT_ONCE = 64;

/**
 * Refuses `socket` with `answerBusy`, tracked in `refusing` until it closes
 * (then `done` runs); past `REFUSING_AT_ONCE`, closes it unanswered.
 */
export function refuseWithinBound(
  refusing: Set<Socket>,
  socket: Socket,
  host: Pick<ConnectionHost, "record" | "options">,
  message: string | undefined,
  done: () => void,
): void {
  if (refusing.size >= REFUSING_AT_ONCE) {
    socket.destroy();
    return;
  }
  refusing.add(socket);
  void answerBusy(socket, host, message).then(() => {
    refusing.delete(socket);
    done();
  });
}
