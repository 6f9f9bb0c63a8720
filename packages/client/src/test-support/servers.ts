import { once } from "node:events";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { FrameDecoder, SUPPORTED_VERSIONS, encodeError, encodeHeartbeat, encodeHello } from "@funker/protocol";
import type { CallFrame, CancelFrame, ProtocolVersion } from "@funker/protocol";

/**
 * Real TCP servers on 127.0.0.1, port 0, that misbehave on purpose. Every
 * accepted socket is tracked, so a test can wait until the client closed its
 * end, and disposal destroys whatever is left.
 */
export class TestServer {
  readonly sockets = new Set<Socket>();
  /** Connections accepted so far. */
  accepted = 0;
  /** Frames a framed server received, in order, across connections. */
  readonly calls: CallFrame[] = [];
  readonly cancels: CancelFrame[] = [];
  private readonly server: Server;
  private readonly waiters: Array<() => void> = [];

  private constructor(server: Server) {
    this.server = server;
    server.on("connection", (socket) => {
      this.accepted += 1;
      this.sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.sockets.delete(socket);
        this.changed();
      });
      this.changed();
    });
  }

  static async start(onConnection: (socket: Socket) => void, host = "127.0.0.1", port = 0): Promise<TestServer> {
    const server = createServer({ allowHalfOpen: true }, onConnection);
    const testServer = new TestServer(server);
    server.listen(port, host);
    await once(server, "listening");
    return testServer;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return address.port;
  }

  get endpoint(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("not listening");
    return `${address.address}:${address.port}`;
  }

  /** Resolves once `predicate` holds (checked on every connect and close), or rejects after `timeoutMs`. */
  until(predicate: (server: TestServer) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(check), 1);
        reject(new Error(`condition not met within ${timeoutMs} ms (open connections: ${this.sockets.size})`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate(this)) return;
        clearTimeout(timer);
        this.waiters.splice(this.waiters.indexOf(check), 1);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** Waits until no accepted connection is open: the client closed or pooled-and-closed its end. */
  allClosed(): Promise<void> {
    return this.until((server) => server.sockets.size === 0);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    if (this.server.listening) {
      this.server.close();
      await once(this.server, "close");
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Re-checks what `until` waits for; call after recording something. */
  changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export interface FramedPeer {
  readonly socket: Socket;
  /** The version the caller's preface named: frames the test sends must be encoded in it. */
  readonly version: ProtocolVersion;
  send(bytes: Uint8Array): void;
}

export interface FramedServerHandlers {
  /**
   * Called with each call, after the server accepted it: like a real handler,
   * a version 2 server sends its HELLO as soon as it reads the preface; a
   * version 1 server sends a heartbeat for the first call on a connection
   * (its proof of delivery), unless `accept` is false.
   */
  onCall(call: CallFrame, peer: FramedPeer): void;
  /** Version 1: false answers nothing before `onCall` does (a peer that never accepts the call). Default true. */
  accept?: boolean;
  onCancel?(cancel: CancelFrame, peer: FramedPeer): void;
  /** The versions the server speaks; a preface naming another gets the version 1 refusal. Default both. */
  versions?: readonly ProtocolVersion[];
  /** Called with the 1-based number of each connection once its preface is read: true closes it at once, before any HELLO (a replica resetting its accept queue). */
  dropBeforeHello?(connection: number): boolean;
  /** The function its HELLO names. */
  functionName?: string;
}

/** A server that reads the framed protocol (preface, then frames) and lets the test answer. */
export async function startFramedServer(handlers: FramedServerHandlers, host?: string, port?: number): Promise<TestServer> {
  const versions = handlers.versions ?? SUPPORTED_VERSIONS;
  let connections = 0;
  const server: TestServer = await TestServer.start((socket) => {
    const decoder = new FrameDecoder({ expectPreface: true });
    let callsOnConnection = 0;
    let greeted = false;
    connections += 1;
    const connection = connections;
    const peer: FramedPeer = {
      socket,
      get version() {
        return decoder.version ?? 1;
      },
      send: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
    };
    socket.on("data", (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (error) {
        const data = (error as { data?: unknown }).data;
        socket.end(encodeError("", { code: "protocol_error", message: String((error as Error).message), data }, { refused: true, version: 1 }));
        return;
      }
      if (!greeted && decoder.version !== undefined) {
        greeted = true;
        if (!versions.includes(decoder.version)) {
          socket.end(
            encodeError("", { code: "protocol_error", message: `unsupported protocol version ${decoder.version}`, data: { supportedVersions: versions } }, { refused: true, version: 1 }),
          );
          return;
        }
        if (handlers.dropBeforeHello?.(connection) === true) {
          socket.destroy();
          return;
        }
        if (decoder.version === 2) peer.send(encodeHello({ functionName: handlers.functionName }));
      }
      for (const frame of frames) {
        if (frame.type === "call") {
          server.calls.push(frame);
          callsOnConnection += 1;
          if (handlers.accept !== false && callsOnConnection === 1 && peer.version === 1) peer.send(encodeHeartbeat(frame.id, { version: 1 }));
          handlers.onCall(frame, peer);
        } else if (frame.type === "cancel") {
          server.cancels.push(frame);
          handlers.onCancel?.(frame, peer);
        }
        server.changed();
      }
    });
    socket.on("end", () => socket.end());
  }, host, port);
  return server;
}

/** A 2017-style function: reads to end of stream, parses JSON, replies with `answer(args)`, closes. */
export function startLegacyServer(answer: (args: unknown) => string | Uint8Array): Promise<TestServer> {
  return TestServer.start((socket) => {
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("end", () => {
      const args: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      socket.end(answer(args));
    });
  });
}
