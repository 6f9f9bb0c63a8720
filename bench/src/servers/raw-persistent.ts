/**
 * The raw limit for calls on a kept connection: one persistent Node TCP
 * connection carrying length-prefixed JSON (u32 big-endian length, then the
 * JSON text), each way. Any number of connections, one call at a time on each.
 */
import { createServer } from "node:net";

const server = createServer({ noDelay: true }, (socket) => {
  let buffered: Buffer = Buffer.alloc(0);
  socket.on("error", () => undefined);
  socket.on("data", (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) break;
      const { x, y } = JSON.parse(buffered.toString("utf8", 4, 4 + length)) as { x: number; y: number };
      buffered = buffered.subarray(4 + length);
      const reply = Buffer.from(JSON.stringify(x + y), "utf8");
      const out = Buffer.allocUnsafe(4 + reply.length);
      out.writeUInt32BE(reply.length, 0);
      reply.copy(out, 4);
      socket.write(out);
    }
  });
});
server.listen(Number(process.env["BENCH_PORT"]), "127.0.0.1");
// Exit cleanly on SIGTERM, so that `--cpu-prof` can write its profile.
process.on("SIGTERM", () => process.exit(0));
