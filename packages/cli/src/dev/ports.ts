import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/** Replicas listen on loopback only: the local runtime is for this machine. */
export const LOCAL_HOST = "127.0.0.1";

/**
 * Picks `count` distinct free ports by holding that many sockets on port 0 at
 * once. They are picked once, at start-up, so a replica restarts on the same
 * port and callers' endpoint lists stay true.
 */
export async function allocateFreePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => listenOn(0).then((result) => (result.ok ? result.server : Promise.reject(result.error)))),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise<void>((done) => server.close(() => done()))));
  return ports;
}

/**
 * Whether `port` can be listened on now. Used only before any replica starts:
 * probing a port a replica is about to take could make the replica fail.
 */
export async function isPortFree(port: number): Promise<{ free: true } | { free: false; reason: string }> {
  const result = await listenOn(port);
  if (!result.ok) {
    const code = (result.error as NodeJS.ErrnoException).code;
    return { free: false, reason: code === "EADDRINUSE" ? "in use by another process" : String(code ?? result.error) };
  }
  await new Promise<void>((done) => result.server.close(() => done()));
  return { free: true };
}

type ListenResult = { ok: true; server: ReturnType<typeof createServer> } | { ok: false; error: unknown };

function listenOn(port: number): Promise<ListenResult> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", (error) => done({ ok: false, error }));
    server.listen({ port, host: LOCAL_HOST, exclusive: true }, () => done({ ok: true, server }));
  });
}

/** TCP states in /proc/net/tcp (include/net/tcp_states.h). */
const TCP_ESTABLISHED = "01";
const TCP_LISTEN = "0A";

/** The local ports in LISTEN state and the number of ESTABLISHED connections accepted on each. */
export interface SocketTable {
  readonly listening: ReadonlySet<number>;
  readonly connections: ReadonlyMap<number, number>;
}

/**
 * Reads the kernel's socket table, to see which replicas listen and which
 * hold a call, without connecting to them: a connection would be a call to a
 * single-shot replica. Linux only; undefined elsewhere.
 */
export async function readSocketTable(): Promise<SocketTable | undefined> {
  const listening = new Set<number>();
  const connections = new Map<number, number>();
  let read = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      continue;
    }
    read = true;
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      if (local === undefined || state === undefined) continue;
      const separator = local.lastIndexOf(":");
      const address = local.slice(0, separator);
      const port = Number.parseInt(local.slice(separator + 1), 16);
      // Replicas listen on 127.0.0.1: "0100007F" in the kernel's byte order
      // (an IPv4-mapped address in tcp6). A service may listen on every
      // address instead (0.0.0.0 or ::, all zeros), which serves 127.0.0.1 too.
      const loopback = address.endsWith("0100007F");
      if (state === TCP_LISTEN && (loopback || /^0+$/.test(address))) listening.add(port);
      else if (state === TCP_ESTABLISHED && loopback) connections.set(port, (connections.get(port) ?? 0) + 1);
    }
  }
  return read ? { listening, connections } : undefined;
}
