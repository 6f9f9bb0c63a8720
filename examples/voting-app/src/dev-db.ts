// The voting app's database under `funker dev`, on a machine with Node alone:
// PGlite (Postgres compiled to WebAssembly) served over Postgres's wire
// protocol on HOST:PORT, its files in $PGDATA/pglite. With POSTGRES_ADDRESS
// (host:port of a real Postgres: Debian's postgresql, a Docker container)
// it forwards every connection there instead, so the functions and the web
// service are the same either way. funker dev gives PORT, HOST and PGDATA
// (the db-data volume's local folder); see funker.yml.
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/**
 * PGlite serves one session, and the socket server multiplexes connections
 * onto it, one at a time by default: a second connection at once is reset.
 * Single-shot replicas each open one per call, and the web service one or
 * two, so allow as many as Postgres does by default (max_connections).
 */
export const MAX_CONNECTIONS = 100;

const port = Number(process.env["PORT"] ?? "5432");
const host = process.env["HOST"] ?? "127.0.0.1";
const forwardTo = process.env["POSTGRES_ADDRESS"];

if (forwardTo !== undefined && forwardTo !== "") {
  const separator = forwardTo.lastIndexOf(":");
  const target = { host: forwardTo.slice(0, separator), port: Number(forwardTo.slice(separator + 1)) };
  if (separator < 1 || !Number.isInteger(target.port)) throw new Error(`POSTGRES_ADDRESS must be host:port, got ${JSON.stringify(forwardTo)}`);
  const server = createServer((socket) => {
    const upstream = connect(target);
    socket.pipe(upstream).pipe(socket);
    socket.on("error", () => upstream.destroy());
    upstream.on("error", () => socket.destroy());
  });
  server.listen(port, host, () => console.log(`Postgres at ${forwardTo}, reached through ${host}:${port}`));
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
} else {
  const folder = process.env["PGDATA"];
  // Without PGDATA the database lives in memory and is gone when funker dev stops.
  const db = await PGlite.create(folder === undefined || folder === "" ? undefined : join(folder, "pglite"));
  const server = new PGLiteSocketServer({ db, port, host, maxConnections: MAX_CONNECTIONS });
  await server.start();
  console.log(`PGlite ${(await db.query<{ server_version: string }>("SHOW server_version")).rows[0]?.server_version ?? "?"} listening on ${host}:${port}, data in ${folder ?? "memory"}`);
  process.once("SIGTERM", () => {
    void (async () => {
      await server.stop();
      await db.close();
      process.exit(0);
    })();
  });
}
