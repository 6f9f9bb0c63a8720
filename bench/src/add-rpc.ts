/**
 * The add function as the gRPC and Connect peers carry it: `bench.Adder/Add`
 * (proto/add.proto), with the messages protoc-gen-es generated into
 * src/gen/add_pb.ts. Protobuf binary is each peer's usual format and its
 * fastest; `BENCH_PEER_CODEC=json` switches both peers to JSON (gRPC with a
 * JSON text codec, Connect with its JSON format) to compare like with the
 * JSON Funker carries.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { MethodDefinition } from "@grpc/grpc-js";
import { AddReplySchema, AddRequestSchema } from "./gen/add_pb.js";
import type { AddReply, AddRequest } from "./gen/add_pb.js";

export { Adder } from "./gen/add_pb.js";
export type { AddReply, AddRequest } from "./gen/add_pb.js";

/** The HTTP path of the one method, the same for gRPC and Connect. */
export const ADD_PATH = "/bench.Adder/Add";

export type PeerCodec = "proto" | "json";

/** Read by every process of the bench alike (children inherit the environment). */
export const peerCodec: PeerCodec = process.env["BENCH_PEER_CODEC"] === "json" ? "json" : "proto";

/** A view of the bytes, not a copy: grpc-js wants Buffers. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface Codec<T> {
  serialize(value: T): Buffer;
  deserialize(bytes: Buffer): T;
}

function jsonCodec<T>(): Codec<T> {
  return {
    serialize: (value) => Buffer.from(JSON.stringify(value), "utf8"),
    deserialize: (bytes) => JSON.parse(bytes.toString("utf8")) as T,
  };
}

const requestCodec: Codec<AddRequest> =
  peerCodec === "json"
    ? jsonCodec()
    : { serialize: (value) => asBuffer(toBinary(AddRequestSchema, value)), deserialize: (bytes) => fromBinary(AddRequestSchema, bytes) };
const replyCodec: Codec<AddReply> =
  peerCodec === "json"
    ? jsonCodec()
    : { serialize: (value) => asBuffer(toBinary(AddReplySchema, value)), deserialize: (bytes) => fromBinary(AddReplySchema, bytes) };

/** `bench.Adder/Add` for grpc-js, client and server side: the shape generated gRPC stubs hand it. */
export const grpcAddMethod: MethodDefinition<AddRequest, AddReply> = {
  path: ADD_PATH,
  requestStream: false,
  responseStream: false,
  requestSerialize: requestCodec.serialize,
  requestDeserialize: requestCodec.deserialize,
  responseSerialize: replyCodec.serialize,
  responseDeserialize: replyCodec.deserialize,
};

/** A request as each codec takes it: a protobuf message, or a plain object for JSON text. */
export function addRequest(x: number, y: number): AddRequest {
  return peerCodec === "json" ? ({ x, y } as AddRequest) : create(AddRequestSchema, { x, y });
}

export function addReply(result: number): AddReply {
  return peerCodec === "json" ? ({ result } as AddReply) : create(AddReplySchema, { result });
}

/** The first call of the whole-process scenarios, in each peer's format on the wire. */
export const firstRequest = {
  /** The body of `{x: 1, y: 2}` for Connect's unary protocol, and its content type. */
  connectBody: (): { contentType: string; body: Buffer } =>
    peerCodec === "json"
      ? { contentType: "application/json", body: Buffer.from(JSON.stringify({ x: 1, y: 2 }), "utf8") }
      : { contentType: "application/proto", body: requestCodec.serialize(addRequest(1, 2)) },
  /** A gRPC message: compression flag, u32 big-endian length, the encoded request. */
  grpcBody: (): { contentType: string; body: Buffer } => {
    const message = requestCodec.serialize(addRequest(1, 2));
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(message.length, 1);
    return { contentType: peerCodec === "json" ? "application/grpc+json" : "application/grpc+proto", body: Buffer.concat([prefix, message]) };
  },
  /** The result in a reply body (Connect) or gRPC message (after its 5-byte prefix). */
  result: (bytes: Buffer): number => replyCodec.deserialize(bytes).result,
};
