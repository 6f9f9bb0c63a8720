// Local TCP endpoints for the caller tools' tests, one for each way a
// connection attempt can end: answered, refused, never established, closed
// or reset before any byte came back. All real sockets on 127.0.0.1.
import { once } from "node:events";
import { connect, createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { Worker } from "node:worker_threads";

export interface LocalEndpoint {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly port: number;
  /** Connections the endpoint accepted. */
  readonly accepted: number;
  close(): Promise<void>;
}

async function listening(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

/** A server that does `onConnection` with every connection it accepts. */
export async function startServer(onConnection: (socket: Socket) => void): Promise<LocalEndpoint> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  const port = await listening(server);
  return {
    address: `127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A port nothing listens on: connections to it are refused (ECONNREFUSED). */
export async function freePort(): Promise<LocalEndpoint> {
  const server = createServer();
  const port = await listening(server);
  server.close();
  await once(server, "close");
  return { address: `127.0.0.1:${port}`, port, accepted: 0, close: async () => undefined };
}

/**
 * An address whose connection attempts are never established, as a task's
 * that has just died on an overlay network: a listener that never accepts
 * (its thread waits on a lock) with its accept queue full, so the kernel
 * drops further SYNs in silence. With a backlog of 1, Linux queues two
 * connections.
 */
export async function startBlackHole(): Promise<LocalEndpoint> {
  const wake = new Int32Array(new SharedArrayBuffer(4));
  const source = `
    const { createServer } = require("node:net");
    const { parentPort, workerData } = require("node:worker_threads");
    const server = createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      // The thread's event loop stops here, so nothing is ever accepted, until the test wakes it.
      Atomics.wait(workerData, 0, 0);
      server.close();
    });
  `;
  const worker = new Worker(source, { eval: true, workerData: wake });
  const [port] = (await once(worker, "message")) as [number];
  const fillers: Socket[] = [];
  for (let index = 0; index < 2; index += 1) {
    const filler = connect(port, "127.0.0.1");
    filler.on("error", () => undefined);
    fillers.push(filler);
    await once(filler, "connect");
  }
  return {
    address: `127.0.0.1:${port}`,
    port,
    accepted: 0,
    async close() {
      for (const filler of fillers) filler.destroy();
      // Woken first: a thread waiting on a lock may not see a termination request.
      Atomics.store(wake, 0, 1);
      Atomics.notify(wake, 0);
      await worker.terminate();
    },
  };
}
