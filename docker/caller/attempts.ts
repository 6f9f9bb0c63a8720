// Counts a process's TCP connection attempts and what became of each, from
// outside the client: node:diagnostics_channel publishes every socket that
// net.connect() creates on 'net.client.socket', before it starts connecting,
// so listeners attached there see its whole life. The client is neither
// modified nor wrapped, and a figure cannot depend on how it reports errors.
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Socket } from "node:net";

/**
 * What became of the connection attempts since watching started. An attempt
 * delivered when any byte came back on its socket: a handler's first frame
 * (its acceptance, a heartbeat or the reply) or a 2017 reply. Every other
 * closed socket is a failed attempt, by cause:
 * - `connect:<code>`: the connection failed with an error (ECONNREFUSED,
 *   EHOSTUNREACH…);
 * - `connect:abandoned`: closed before it was established, without an error:
 *   given up by the caller at its connect time limit (a SYN dropped in
 *   silence, as for a task that has just died on an overlay network), its
 *   deadline, or a cancel;
 * - `unanswered:<code>`: established, then failed with an error before any
 *   byte came back (ECONNRESET: a single-shot replica resetting the
 *   connections still queued on its listener when it took its one call);
 * - `unanswered:closed`: established, then closed cleanly before any byte
 *   came back.
 */
export interface AttemptFigures {
  /** Sockets created since watching started. */
  socketsOpened: number;
  /** Sockets on which at least one byte came back. */
  socketsAnswered: number;
  /** Sockets still open that have not answered yet: attempts whose outcome is unknown. */
  socketsPending: number;
  failedAttempts: number;
  failedAttemptsByCause: Record<string, number>;
  /** Distinct `host:port` that answered on at least one socket (a reuse replica keeps its address; single-shot tasks get new ones). */
  addressesAnswered: number;
  /** Every socket 'error' event by code, whatever the stage (the figure this tool printed before it counted failed attempts). */
  connectErrors: Record<string, number>;
}

export interface AttemptWatch {
  figures(): AttemptFigures;
  /** Stops watching sockets created from now on. */
  stop(): void;
}

const CHANNEL = "net.client.socket";

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Starts counting the connection attempts of every socket this process creates with net.connect(). */
export function watchConnectionAttempts(): AttemptWatch {
  let socketsOpened = 0;
  let socketsAnswered = 0;
  let failedAttempts = 0;
  const failedAttemptsByCause: Record<string, number> = {};
  const connectErrors: Record<string, number> = {};
  const answeringAddresses = new Set<string>();
  /** Open sockets, to read how many bytes each has received so far. */
  const open = new Map<Socket, string | undefined>();

  const onSocket = (message: unknown): void => {
    const { socket } = message as { socket: Socket };
    socketsOpened += 1;
    open.set(socket, undefined);
    let errorCode: string | undefined;
    socket.once("connect", () => {
      // Read now: a closed socket no longer knows its peer.
      open.set(socket, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`);
    });
    // Listening adds no behaviour: the client handles every socket's 'error' itself.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "other";
      increment(connectErrors, code);
      errorCode ??= code;
    });
    socket.once("close", () => {
      const address = open.get(socket);
      open.delete(socket);
      // bytesRead counts in the socket's handle, so it also counts the bytes
      // of a socket that reads into its own buffer (the client's `onread`),
      // which emits no 'data' events to listen to.
      if (socket.bytesRead > 0) {
        socketsAnswered += 1;
        if (address !== undefined) answeringAddresses.add(address);
        return;
      }
      failedAttempts += 1;
      const stage = address === undefined ? "connect" : "unanswered";
      increment(failedAttemptsByCause, `${stage}:${errorCode ?? (address === undefined ? "abandoned" : "closed")}`);
    });
  };
  subscribe(CHANNEL, onSocket);

  return {
    figures() {
      let answeredOpen = 0;
      for (const [socket, address] of open) {
        if (socket.bytesRead === 0) continue;
        answeredOpen += 1;
        if (address !== undefined) answeringAddresses.add(address);
      }
      return {
        socketsOpened,
        socketsAnswered: socketsAnswered + answeredOpen,
        socketsPending: open.size - answeredOpen,
        failedAttempts,
        failedAttemptsByCause: { ...failedAttemptsByCause },
        addressesAnswered: answeringAddresses.size,
        connectErrors: { ...connectErrors },
      };
    },
    stop() {
      unsubscribe(CHANNEL, onSocket);
    },
  };
}
