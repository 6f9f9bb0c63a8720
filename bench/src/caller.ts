/**
 * A load-generating caller process. The orchestrator forks one per client
 * kind and scenario and drives it over IPC, so that the caller's CPU time
 * (`process.cpuUsage`) is its own and the servers run in other processes.
 * Each `run` message makes `concurrency` loops call back to back for a fixed
 * time and answers with the count, latency quantiles and CPU time.
 */
import { request as httpRequest, Agent } from "node:http";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { createClient } from "@funker/client";
import type { ClientOptions } from "@funker/client";
import type { Transport } from "@connectrpc/connect";
import { BENCH_SECRET } from "./messages.js";
import type { CallerKind, CallerSetup, RoundMeasurement, RunCommand } from "./messages.js";

type CallOnce = (loop: number, sequence: number) => Promise<number>;

interface Caller {
  call: CallOnce;
  close(): Promise<void>;
}

function rawPerCall(addresses: readonly Address[]): Caller {
  return {
    call: (loop, sequence) =>
      new Promise((resolve, reject) => {
        const address = addresses[loop % addresses.length] as Address;
        const socket = connect({ host: address.host, port: address.port, noDelay: true });
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("error", reject);
        socket.on("end", () => {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as number);
          socket.destroy();
        });
        socket.end(JSON.stringify({ x: sequence, y: 2 }));
      }),
    close: () => Promise.resolve(),
  };
}

/** One persistent connection per loop, spread over the servers round-robin. */
function rawPersistent(addresses: readonly Address[], concurrency: number): Caller {
  const connections = Array.from({ length: concurrency }, (_, loop) => new LengthPrefixedConnection(addresses[loop % addresses.length] as Address));
  return {
    call: (loop, sequence) => (connections[loop] as LengthPrefixedConnection).call({ x: sequence, y: 2 }),
    close: async () => {
      for (const connection of connections) connection.destroy();
    },
  };
}

class LengthPrefixedConnection {
  private readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private pending: { resolve: (value: number) => void; reject: (error: Error) => void } | undefined;

  constructor(address: Address) {
    this.socket = connect({ host: address.host, port: address.port, noDelay: true });
    this.socket.on("error", (error) => this.pending?.reject(error));
    this.socket.on("data", (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      if (this.buffered.length < 4) return;
      const length = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + length) return;
      const value = JSON.parse(this.buffered.toString("utf8", 4, 4 + length)) as number;
      this.buffered = this.buffered.subarray(4 + length);
      const pending = this.pending;
      this.pending = undefined;
      pending?.resolve(value);
    });
  }

  call(args: unknown): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const body = Buffer.from(JSON.stringify(args), "utf8");
      const out = Buffer.allocUnsafe(4 + body.length);
      out.writeUInt32BE(body.length, 0);
      body.copy(out, 4);
      this.socket.write(out);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function funker(addresses: readonly Address[], keepConnections: boolean, secret?: string): Caller {
  const client = createClient({
    endpoints: { add: addresses.map((address) => `${address.host}:${address.port}`) },
    ...(secret === undefined ? {} : { secret }),
    // A pool that keeps nothing: every call opens its own connection.
    ...(keepConnections ? {} : { maxIdleConnectionsPerAddress: 0 }),
    // Client options to try a change against the same baselines (`BENCH_CLIENT_OPTIONS='{"deadAddressMs":100}'`).
    ...(JSON.parse(process.env["BENCH_CLIENT_OPTIONS"] ?? "{}") as ClientOptions),
  });
  return {
    call: (_loop, sequence) => client.call<number>("add", { x: sequence, y: 2 }),
    close: () => client.close(),
  };
}

function httpKeepAlive(addresses: readonly Address[], concurrency: number): Caller {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  return {
    call: (loop, sequence) =>
      new Promise((resolve, reject) => {
        const address = addresses[loop % addresses.length] as Address;
        const body = JSON.stringify({ x: sequence, y: 2 });
        const request = httpRequest(
          {
            host: address.host,
            port: address.port,
            path: "/",
            method: "POST",
            agent,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("end", () => {
              if (response.statusCode !== 200) reject(new Error(`HTTP ${response.statusCode}`));
              else resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as number);
            });
          },
        );
        request.on("error", reject);
        request.end(body);
      }),
    close: async () => agent.destroy(),
  };
}

/** gRPC: one channel (one `Client`), every loop's calls on it at once, as HTTP/2 streams. */
async function grpc(address: Address): Promise<Caller> {
  const { Client, credentials } = await import("@grpc/grpc-js");
  const { addRequest, grpcAddMethod } = await import("./add-rpc.js");
  const client = new Client(`${address.host}:${address.port}`, credentials.createInsecure());
  const { path, requestSerialize, responseDeserialize } = grpcAddMethod;
  return {
    call: (_loop, sequence) =>
      new Promise((resolve, reject) => {
        // What a generated stub's method does: one unary request on the channel.
        client.makeUnaryRequest(path, requestSerialize, responseDeserialize, addRequest(sequence, 2), (error, reply) => {
          if (error !== null || reply === undefined) reject(error ?? new Error("no reply"));
          else resolve(reply.result);
        });
      }),
    close: async () => client.close(),
  };
}

/**
 * Connect's client with its Node transport and Connect's own protocol. Over
 * HTTP/2, one session carries every loop's calls; over HTTP/1.1, a keep-alive
 * agent keeps one connection per loop, as the bare `node:http` caller does.
 */
async function connectRpc(address: Address, httpVersion: "1.1" | "2", concurrency: number): Promise<Caller> {
  const { createClient } = await import("@connectrpc/connect");
  const { createConnectTransport, Http2SessionManager } = await import("@connectrpc/connect-node");
  const { Adder, peerCodec } = await import("./add-rpc.js");
  const baseUrl = `http://${address.host}:${address.port}`;
  const useBinaryFormat = peerCodec === "proto";
  const caller = (transport: Transport, close: () => void): Caller => {
    const client = createClient(Adder, transport);
    return {
      call: async (_loop, sequence) => (await client.add({ x: sequence, y: 2 })).result,
      close: async () => close(),
    };
  };
  if (httpVersion === "2") {
    const sessionManager = new Http2SessionManager(baseUrl);
    return caller(createConnectTransport({ baseUrl, httpVersion, useBinaryFormat, sessionManager }), () => sessionManager.abort());
  }
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  return caller(createConnectTransport({ baseUrl, httpVersion, useBinaryFormat, nodeOptions: { agent } }), () => agent.destroy());
}

interface Address {
  host: string;
  port: number;
}

function createCaller(kind: CallerKind, setup: CallerSetup): Caller | Promise<Caller> {
  const addresses = setup.ports.map((port) => ({ host: "127.0.0.1", port }));
  const first = addresses[0] as Address;
  switch (kind) {
    case "raw-per-call":
      return rawPerCall(addresses);
    case "raw-persistent":
      return rawPersistent(addresses, setup.concurrency);
    case "funker-per-call":
      return funker(addresses, false);
    case "funker-kept":
      return funker(addresses, true);
    case "funker-kept-signed":
      return funker(addresses, true, BENCH_SECRET);
    case "http-keep-alive":
      return httpKeepAlive(addresses, setup.concurrency);
    // The peers' libraries load only in their own callers.
    case "grpc":
      return grpc(first);
    case "connect-h1":
      return connectRpc(first, "1.1", setup.concurrency);
    case "connect-h2":
      return connectRpc(first, "2", setup.concurrency);
    default: {
      const unexpected: never = kind;
      throw new Error(`unknown caller kind ${String(unexpected)}`);
    }
  }
}

/** Room for the latencies of one round; a round longer than this many calls keeps counting but samples no more. */
const MAX_SAMPLES = 4_000_000;
const latencies = new Float64Array(MAX_SAMPLES);

async function run(caller: Caller, command: RunCommand): Promise<RoundMeasurement> {
  let samples = 0;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const endsAt = startedAt + command.durationMs;
  let sequence = 0;
  const loop = async (index: number): Promise<void> => {
    while (performance.now() < endsAt) {
      const x = sequence;
      sequence += 1;
      const callStartedAt = performance.now();
      try {
        const value = await caller.call(index, x);
        if (value !== x + 2) throw new Error(`wrong answer ${value} for ${x} + 2`);
        const elapsed = performance.now() - callStartedAt;
        if (samples < MAX_SAMPLES) latencies[samples++] = elapsed;
        calls += 1;
      } catch (error) {
        errors += 1;
        firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        // A failing target must not spin the loop at full speed.
        if (errors > 1_000) return;
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, (_, index) => loop(index)));
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const sorted = latencies.subarray(0, samples).sort();
  const quantile = (q: number): number => (samples === 0 ? Number.NaN : (sorted[Math.min(samples - 1, Math.floor(q * samples))] as number));
  return {
    calls,
    errors,
    firstError,
    elapsedMs,
    callsPerSecond: (calls / elapsedMs) * 1_000,
    p50Ms: quantile(0.5),
    p99Ms: quantile(0.99),
    cpuMicrosPerCall: calls === 0 ? Number.NaN : (cpu.user + cpu.system) / calls,
  };
}

const setup = JSON.parse(process.env["BENCH_CALLER"] ?? "{}") as CallerSetup;
const caller = await createCaller(setup.kind, setup);
process.on("message", (message: RunCommand | { type: "close" }) => {
  if (message.type === "close") {
    void caller.close().then(() => process.disconnect());
    return;
  }
  void run(caller, message).then((measurement) => process.send?.({ type: "measurement", measurement }));
});
process.send?.({ type: "ready" });
