import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import pg from "pg";

/** A real Postgres for the tests, as `funker dev` runs one: PGlite behind its socket server on a free port of 127.0.0.1. */
export interface TestDatabase extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`, for `pg`. */
  readonly url: string;
  /** PGlite itself, to look at the data without a connection of the code under test. */
  readonly db: PGlite;
}

export async function startTestDatabase(maxConnections = 100): Promise<TestDatabase> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", maxConnections });
  let port = 0;
  server.addEventListener("listening", (event) => (port = (event as CustomEvent<{ port: number }>).detail.port));
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    db,
    async [Symbol.asyncDispose]() {
      await server.stop();
      await db.close();
    },
  };
}

/** A `pg` pool on the test database, ended when disposed. */
export function testPool(url: string): pg.Pool & AsyncDisposable {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => undefined);
  return Object.assign(pool, { [Symbol.asyncDispose]: () => pool.end() });
}
