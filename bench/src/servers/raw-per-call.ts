/**
 * The raw limit for a call on a fresh connection: a minimal Node `net`
 * server doing the 2017 JSON exchange (the caller writes one JSON text and
 * half-closes; the server replies with one JSON text and closes). No
 * framing, no timers, no validation: what Node alone costs.
 */
import { createServer } from "node:net";

const port = Number(process.env["BENCH_PORT"]);

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => undefined);
  socket.on("end", () => {
    // An empty body is the bench's readiness probe.
    if (chunks.length === 0) return void socket.end();
    const { x, y } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { x: number; y: number };
    socket.end(JSON.stringify(x + y));
  });
});
server.listen(port, "127.0.0.1");
// Exit cleanly on SIGTERM, so that `--cpu-prof` can write its profile.
process.on("SIGTERM", () => process.exit(0));
