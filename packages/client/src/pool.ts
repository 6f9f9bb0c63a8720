import type { Address } from "./discovery.js";
import { FramedConnection } from "./connection.js";
import type { ConnectionHome, FramedConnectionSettings } from "./connection.js";

/**
 * Idle framed connections, per replica address. A handler in reuse mode
 * says `keepAlive` in its reply; the connection then waits here, unref'd so
 * it never keeps the process alive, until the next call to that address or
 * its idle timeout. The most recently used connection is taken first: it is
 * the likeliest to still be open.
 */
export class ConnectionPool implements ConnectionHome {
  private readonly idle = new Map<string, FramedConnection[]>();
  private closed = false;

  constructor(
    private readonly settings: FramedConnectionSettings,
    private readonly idleTimeoutMs: number,
    private readonly maxIdlePerAddress: number,
  ) {}

  hasIdle(key: string): boolean {
    const list = this.idle.get(key);
    return list !== undefined && list.length > 0;
  }

  /** A pooled connection that still looks open, or a new one, speaking what the address is known to speak. */
  acquire(address: Address): FramedConnection {
    const list = this.idle.get(address.key);
    if (list !== undefined) {
      for (let connection = list.pop(); connection !== undefined; connection = list.pop()) {
        if (connection.usable) return connection;
        connection.destroy();
      }
    }
    return new FramedConnection(address, this.settings, this, this.settings.memory.versionAt(address.key));
  }

  release(connection: FramedConnection): boolean {
    if (this.closed) return false;
    let list = this.idle.get(connection.address.key);
    if (list === undefined) {
      list = [];
      this.idle.set(connection.address.key, list);
    }
    if (list.length >= this.maxIdlePerAddress) return false;
    connection.park(this.idleTimeoutMs);
    list.push(connection);
    return true;
  }

  closedWhileIdle(connection: FramedConnection): void {
    const list = this.idle.get(connection.address.key);
    if (list === undefined) return;
    const index = list.indexOf(connection);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.idle.delete(connection.address.key);
  }

  /** Closes every idle connection and keeps no more. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const connection of list) connection.destroy();
    this.idle.clear();
  }
}
