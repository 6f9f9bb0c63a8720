/**
 * The gRPC peer: `@grpc/grpc-js` serving `bench.Adder/Add` unary, without TLS
 * (loopback, as the other servers of the bench), with its default options.
 * The messages are protoc-gen-es's (src/gen/add_pb.ts), or JSON text with
 * BENCH_PEER_CODEC=json (see src/add-rpc.ts).
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { addReply, grpcAddMethod } from "../add-rpc.js";
import type { AddReply, AddRequest } from "../add-rpc.js";

const server = new Server();
server.addService(
  { add: grpcAddMethod },
  {
    add: (call: ServerUnaryCall<AddRequest, AddReply>, callback: sendUnaryData<AddReply>) => callback(null, addReply(call.request.x + call.request.y)),
  },
);
server.bindAsync(`127.0.0.1:${Number(process.env["BENCH_PORT"])}`, ServerCredentials.createInsecure(), (error) => {
  if (error !== null) {
    console.error(error);
    process.exit(1);
  }
});
// Exit cleanly on SIGTERM, so that `--cpu-prof` can write its profile.
process.on("SIGTERM", () => process.exit(0));
