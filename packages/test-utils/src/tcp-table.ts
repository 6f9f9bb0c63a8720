import { readFileSync } from "node:fs";

/** One IPv4 TCP socket as the kernel lists it in /proc/net/tcp. */
export interface KernelSocket {
  readonly localPort: number;
  readonly remotePort: number;
  /** The "tr" of "tr:tm->when": 0 no timer, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe. */
  readonly timer: number;
  /** Bytes received that the process has not read yet (the "rx_queue" of an established socket). */
  readonly unreadBytes: number;
}

/** The IPv4 TCP sockets bound to 127.0.0.1, from /proc/net/tcp (Linux). */
export function loopbackSockets(): KernelSocket[] {
  const sockets: KernelSocket[] = [];
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const [localAddress, localPort] = (fields[1] ?? "").split(":");
    const remotePort = (fields[2] ?? "").split(":")[1];
    if (localAddress !== "0100007F" || localPort === undefined || remotePort === undefined) continue;
    sockets.push({
      localPort: parseInt(localPort, 16),
      remotePort: parseInt(remotePort, 16),
      timer: parseInt((fields[5] ?? "0").split(":")[0] ?? "0", 16),
      unreadBytes: parseInt((fields[4] ?? "0:0").split(":")[1] ?? "0", 16),
    });
  }
  return sockets;
}

/**
 * Whether the kernel runs the keepalive timer of the loopback socket bound
 * to `localPort` (and connected to `remotePort`, when given): an idle socket
 * with SO_KEEPALIVE shows timer type 2; without it, none.
 */
export function keepaliveTimerOn(localPort: number, remotePort?: number): boolean {
  const socket = loopbackSockets().find((entry) => entry.localPort === localPort && (remotePort === undefined || entry.remotePort === remotePort));
  if (socket === undefined) throw new Error(`no socket on 127.0.0.1:${localPort}${remotePort === undefined ? "" : ` → ${remotePort}`} in /proc/net/tcp`);
  return socket.timer === 2;
}
