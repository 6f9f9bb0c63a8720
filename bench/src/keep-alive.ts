/**
 * HTTP/1.1 servers of the bench keep an idle connection for 60 s instead of
 * Node's 5 s: a caller sits idle while the other peers of its round are
 * measured (up to 15 s), and a server closing a kept connection just as the
 * next round reuses it would fail a call. Deployments behind a load balancer
 * raise it the same way; it changes nothing on a busy connection.
 */
import type { Server } from "node:http";

const IDLE_CONNECTION_MS = 60_000;

export function keepIdleConnections(server: Server): Server {
  server.keepAliveTimeout = IDLE_CONNECTION_MS;
  return server;
}
