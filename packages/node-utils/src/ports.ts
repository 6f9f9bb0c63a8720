import { createServer } from "node:net";

/**
 * A TCP port free on 127.0.0.1 now: the kernel picks one for a listener
 * that is closed at once. Another process may take it before it is used;
 * tests that can listen on port 0 themselves should.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("the listener has no TCP address");
  return address.port;
}
