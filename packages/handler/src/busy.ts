import type { Socket } from "node:net";
import { FrameDecoder, FunkerError, detectWireMode, encodeError, encodeLegacyError } from "@funker/protocol";
import type { WireMode } from "@funker/protocol";
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
export function answerBusy(socket: Socket, host: Pick<ConnectionHost, "record">): Promise<void> {
  const acceptedAt = Date.now();
  return new Promise((resolve) => {
    let answered = false;
    const error = new FunkerError("unavailable", "the replica is busy; try another replica").toWire();
    const answer = (mode: WireMode | undefined, id: string): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      host.record({ id, functionName: undefined, protocol: mode, durationMs: Date.now() - acceptedAt, error, served: false });
      if (!socket.destroyed) socket.end(mode === "framed" ? encodeError(id, error, false, true) : encodeLegacyError(error));
      // Drain what the caller still sends, so that closing does not reset the connection under the reply.
      socket.resume();
      const linger = setTimeout(() => socket.destroy(), LINGER_MS);
      linger.unref();
      socket.once("close", () => clearTimeout(linger));
    };
    const timer = setTimeout(() => answer(undefined, ""), BUSY_READ_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => undefined);
    socket.once("data", (chunk: Buffer) => {
      const mode = detectWireMode(chunk);
      let id = "";
      if (mode === "framed") {
        try {
          const first = new FrameDecoder({ expectPreface: true }).push(chunk)[0];
          if (first?.type === "call") id = first.id;
        } catch {
          // Garbage after a NUL byte still gets the busy answer, without an id.
        }
      }
      answer(mode, id);
    });
    socket.once("end", () => answer(undefined, ""));
  });
}
