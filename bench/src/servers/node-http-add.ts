/**
 * The ceiling of every HTTP/1.1 framework on Node: a bare `node:http` server
 * answering a JSON POST of `{x, y}` with the JSON sum. No routing, no
 * validation, no middleware.
 */
import { createServer } from "node:http";
import { keepIdleConnections } from "../keep-alive.js";

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const { x, y } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { x: number; y: number };
    const body = JSON.stringify(x + y);
    response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    response.end(body);
  });
});
keepIdleConnections(server).listen(Number(process.env["BENCH_PORT"]), "127.0.0.1");
// Exit cleanly on SIGTERM, so that `--cpu-prof` can write its profile.
process.on("SIGTERM", () => process.exit(0));
