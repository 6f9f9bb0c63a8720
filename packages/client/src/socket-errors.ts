import { FunkerError } from "@funker/protocol";

/**
 * Where a call stood when its socket failed. Before the connection is up, no
 * byte of the call can have reached a handler; once it is up, the call was
 * written and may have been read, so the function may have run.
 * "unanswered": written, and not a byte of an answer to it came back (the
 * connection's HELLO aside), which is when a reset tells that the handler
 * never read the call.
 */
export type SocketPhase = "before-send" | "unanswered" | "after-send";

export interface SocketFailure {
  error: FunkerError;
  /** True when nothing answers at that address now: skip it for a while. */
  addressDead: boolean;
}

const DEAD_ADDRESS_ERRNOS = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"]);

/**
 * The one place where operating-system errors become Funker codes. Every
 * socket error of the client passes through here, so what a code means for a
 * retry (see `errorCodeInfo`) follows from the errno and the phase alone.
 */
export function failureFromSocketError(error: unknown, phase: SocketPhase, address: string): SocketFailure {
  const errno = typeof (error as { code?: unknown } | null)?.code === "string" ? (error as { code: string }).code : "";
  const reason = error instanceof Error ? error.message : String(error);
  const data = { address, errno: errno === "" ? undefined : errno };
  if (phase === "before-send") {
    // Every errno before the connection is up means the call was not
    // delivered, so all become `connection_failed` (retried at once on
    // another replica). They differ only in whether the address is dead:
    // - ECONNREFUSED: nothing listens: a single-shot replica that already
    //   took its call, one still starting, or a dead task whose address
    //   lingers in DNS (about 275 ms on Swarm). Dead for now.
    // - EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN: no route: the
    //   container is gone and the overlay has not caught up. Dead for now.
    // - ECONNRESET, ETIMEDOUT: the handshake was reset (a listener dying, a
    //   full backlog) or never completed. Worth another try later.
    // - ENOTFOUND, EAI_AGAIN, EAI_FAIL: an endpoint given as a host name did
    //   not resolve (yet). Worth another try later.
    // - EADDRNOTAVAIL, EMFILE, ENFILE: this process ran out of ports or
    //   descriptors; passing, and not the replica's fault.
    const addressDead = DEAD_ADDRESS_ERRNOS.has(errno);
    return {
      addressDead,
      error: new FunkerError("connection_failed", `could not connect to ${address}: ${reason}`, {
        cause: error,
        data,
        mayHaveRun: false,
      }),
    };
  }
  if (phase === "unanswered" && errno === "ECONNRESET") {
    // A TCP stack resets a connection that is closed with received bytes
    // still unread (RFC 1122, 4.2.2.13), and a killed process's sockets are
    // closed: a handler killed while our call waited in its socket never
    // read it, and a handler runs only a call it has read whole. One that
    // read the call and died closes with a FIN, and a reset that follows a
    // FIN is reported as EPIPE, not ECONNRESET, so this errno means no FIN
    // came first. The handler's side of the bargain: it never aborts a
    // connection after reading a call on it (PROTOCOL.md section 6.4). This
    // is the common end of a kept connection whose replica was killed: the
    // call sat unread while the replica worked, or reached a process that
    // was already dying.
    return {
      addressDead: true,
      error: new FunkerError("connection_failed", `${address} reset the connection with the call unread (its process ended before reading it): ${reason}; the call was not delivered`, {
        cause: error,
        data,
        mayHaveRun: false,
      }),
    };
  }
  // After the call was written, any break of the connection means the replica
  // died or vanished while it may have been running the function:
  // ECONNRESET (its kernel reset the connection: the process was killed, or
  // closed with our bytes unread), EPIPE (it closed before we finished
  // writing), ETIMEDOUT (TCP keepalive probes went unanswered: the host or
  // the overlay path is gone), EHOSTUNREACH/ENETUNREACH (its route vanished).
  // Which of these it was does not change what the caller may do next.
  return {
    addressDead: errno === "EHOSTUNREACH" || errno === "ENETUNREACH",
    error: new FunkerError("handler_crashed", `the connection to ${address} broke during the call: ${reason}`, {
      cause: error,
      data,
      mayHaveRun: true,
    }),
  };
}
