/**
 * The Connect peer: `@connectrpc/connect-node` serving `bench.Adder/Add` on a
 * plain `node:http` server (BENCH_HTTP_VERSION=1.1) or a cleartext `node:http2`
 * server (BENCH_HTTP_VERSION=2). It answers the Connect, gRPC and gRPC-Web
 * protocols; the bench's callers speak Connect's, binary protobuf unless
 * BENCH_PEER_CODEC=json.
 */
import { createServer as createHttpServer } from "node:http";
import { createServer as createHttp2Server } from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Adder } from "../add-rpc.js";
import { keepIdleConnections } from "../keep-alive.js";

const handler = connectNodeAdapter({
  routes: (router) => router.service(Adder, { add: (request) => ({ result: request.x + request.y }) }),
});
const port = Number(process.env["BENCH_PORT"]);
if (process.env["BENCH_HTTP_VERSION"] === "2") createHttp2Server(handler).listen(port, "127.0.0.1");
else keepIdleConnections(createHttpServer(handler)).listen(port, "127.0.0.1");
// Exit cleanly on SIGTERM, so that `--cpu-prof` can write its profile.
process.on("SIGTERM", () => process.exit(0));
