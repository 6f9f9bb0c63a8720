/**
 * The floor of a single-shot replica: a bare Node script that binds, answers
 * one JSON call (the 2017 exchange) and exits. Nothing else is loaded.
 */
import { createServer } from "node:net";

const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  server.close();
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => process.exit(0));
  socket.on("end", () => {
    const { x, y } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { x: number; y: number };
    socket.end(JSON.stringify(x + y));
  });
  socket.on("close", () => process.exit(0));
});
server.listen(Number(process.env["BENCH_PORT"]), "127.0.0.1");
