/**
 * The peers a team weighs Funker against for calls between its services:
 * gRPC (`@grpc/grpc-js`), Connect (`@connectrpc/connect-node`) over HTTP/1.1
 * and HTTP/2, and a bare `node:http` server (the ceiling of every HTTP/1.1
 * framework on Node). Every peer serves the same add function from its own
 * process; each is measured against Funker in the same run, peer by peer:
 * peer 1, Funker, peer 2, Funker, … in every round, each ratio taken from a
 * peer's round and the Funker round right after it.
 */
import { connect as http2Connect } from "node:http2";
import type { IncomingHttpHeaders } from "node:http2";
import type { Socket } from "node:net";
import { ADD_PATH, firstRequest, peerCodec } from "./add-rpc.js";
import type { CallerKind, RoundMeasurement } from "./messages.js";
import {
  benchServer,
  callsPerSecond,
  cpuPerCall,
  firstReply,
  framedExchangeKept,
  funkerReuse,
  http1Post,
  httpExchange,
  idleMs,
  MAX_WARMUP_STEPS,
  medianOf,
  p50,
  p99,
  row,
  throughputAgainst,
} from "./scenarios.js";
import type { Goal, Row, Scenario, ServerSpec, Settings } from "./scenarios.js";
import { summarize } from "./stats.js";

interface Peer {
  /** As the notes name it. */
  name: string;
  /** As the table's baseline column names it. */
  label: string;
  /** gRPC and Connect: the goals compare with the best of these. The bare `node:http` server has goals of its own. */
  rpc: boolean;
  server: ServerSpec;
  caller: CallerKind;
  /** The first call of the whole-process scenarios, on the socket that found the port listening. */
  firstCall(socket: Socket): Promise<void>;
}

const codecName = peerCodec === "json" ? "JSON" : "protobuf";

/** One POST on an HTTP/2 session over the socket (cleartext, prior knowledge), read to its end. */
async function http2Post(socket: Socket, headers: Record<string, string>, body: Buffer): Promise<{ status: number; body: Buffer; trailers: IncomingHttpHeaders }> {
  const session = http2Connect("http://127.0.0.1", { createConnection: () => socket });
  try {
    return await new Promise((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({ ":method": "POST", ":path": ADD_PATH, ...headers });
      let status = 0;
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.once("response", (responseHeaders) => {
        status = Number(responseHeaders[":status"]);
        // A gRPC error without a body comes in the headers alone ("trailers-only").
        trailers = responseHeaders;
      });
      stream.once("trailers", (received) => (trailers = received));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.once("error", reject);
      stream.once("end", () => resolve({ status, body: Buffer.concat(chunks), trailers }));
      stream.end(body);
    });
  } finally {
    session.destroy();
  }
}

async function grpcFirstCall(socket: Socket): Promise<void> {
  const { contentType, body } = firstRequest.grpcBody();
  const reply = await http2Post(socket, { "content-type": contentType, te: "trailers" }, body);
  // The reply message follows a 5-byte prefix: compression flag, u32 length.
  if (reply.status !== 200 || reply.trailers["grpc-status"] !== "0" || firstRequest.result(reply.body.subarray(5)) !== 3) {
    throw new Error(`unexpected gRPC reply: HTTP ${reply.status}, grpc-status ${String(reply.trailers["grpc-status"])}`);
  }
}

async function connectHttp2FirstCall(socket: Socket): Promise<void> {
  const { contentType, body } = firstRequest.connectBody();
  const reply = await http2Post(socket, { "content-type": contentType }, body);
  if (reply.status !== 200 || firstRequest.result(reply.body) !== 3) throw new Error(`unexpected Connect reply: HTTP ${reply.status}`);
}

async function connectHttp1FirstCall(socket: Socket): Promise<void> {
  const { contentType, body } = firstRequest.connectBody();
  if (firstRequest.result(await http1Post(socket, ADD_PATH, contentType, body)) !== 3) throw new Error("unexpected Connect reply");
}

const peers: readonly Peer[] = [
  {
    name: "gRPC",
    label: `gRPC (\`@grpc/grpc-js\`, ${codecName}, one channel)`,
    rpc: true,
    server: benchServer("grpc-add"),
    caller: "grpc",
    firstCall: grpcFirstCall,
  },
  {
    name: "Connect over HTTP/1.1",
    label: `Connect (\`@connectrpc/connect-node\`, ${codecName}) over HTTP/1.1, keep-alive agent`,
    rpc: true,
    server: benchServer("connect-add", { BENCH_HTTP_VERSION: "1.1" }, "connect-http1"),
    caller: "connect-h1",
    firstCall: connectHttp1FirstCall,
  },
  {
    name: "Connect over HTTP/2",
    label: `Connect (${codecName}) over HTTP/2, one session`,
    rpc: true,
    server: benchServer("connect-add", { BENCH_HTTP_VERSION: "2" }, "connect-http2"),
    caller: "connect-h2",
    firstCall: connectHttp2FirstCall,
  },
  {
    name: "node:http",
    label: "bare `node:http` server, JSON, keep-alive agent",
    rpc: false,
    server: benchServer("node-http-add"),
    caller: "http-keep-alive",
    firstCall: httpExchange,
  },
];

/** Funker's rounds and one peer's, pair by pair. */
interface PeerPair {
  funker: number[];
  peer: number[];
}

/** The gRPC or Connect peer whose median is best: the one the goals compare with. */
function bestRpcPeer(pairs: readonly PeerPair[], better: "higher" | "lower"): number {
  let best = -1;
  for (const [index, peer] of peers.entries()) {
    if (!peer.rpc) continue;
    const median = summarize((pairs[index] as PeerPair).peer).median;
    const bestMedian = best < 0 ? Number.NaN : summarize((pairs[best] as PeerPair).peer).median;
    if (best < 0 || (better === "higher" ? median > bestMedian : median < bestMedian)) best = index;
  }
  return best;
}

interface PeerGoals {
  /** Against the best of gRPC and Connect (`reference`). */
  rpc?: Goal;
  /** Against the bare `node:http` server. */
  nodeHttp?: Goal;
}

/** One row per peer for a metric; the goals sit on the reference peer's row and on node:http's. */
function peerRows(title: string, metric: string, unit: Row["unit"], pairs: readonly PeerPair[], reference: number, referenceWord: string, goals: PeerGoals): Row[] {
  return peers.map((peer, index) => {
    const pair = pairs[index] as PeerPair;
    const label = index === reference ? `${peer.label} (${referenceWord} of gRPC and Connect)` : peer.label;
    const goal = index === reference ? goals.rpc : peer.rpc ? undefined : goals.nodeHttp;
    return row(title, metric, unit, pair.funker, label, pair.peer, goal);
  });
}

/** The peers ranked by a metric's median, best first: "Connect over HTTP/2 1,234 calls/s, …". */
function ranking(pairs: readonly PeerPair[], better: "higher" | "lower", format: (value: number) => string): string {
  return peers
    .map((peer, index) => ({ name: peer.name, median: summarize((pairs[index] as PeerPair).peer).median }))
    .sort((a, b) => (better === "higher" ? b.median - a.median : a.median - b.median))
    .map(({ name, median }) => `${name} ${format(median)}`)
    .join(", ");
}

/** The limit of a scenario whose rounds alternate Funker with every peer: twice the time its rounds and longest warm-ups take, and a minute. */
const peersTimeoutMs = (settings: Settings): number =>
  60_000 + 2 * (settings.rounds * peers.length * 2 * settings.roundMs + (peers.length + 1) * MAX_WARMUP_STEPS * settings.warmupMs);

function peerLoad(name: string, concurrency: number, nodeHttpGoal: number): Scenario {
  const load = concurrency === 1 ? "one call at a time" : `${concurrency} calls in flight`;
  return {
    name,
    title: `peers, ${load}`,
    timeoutMs: peersTimeoutMs,
    async run(settings) {
      // Sequentially the `kept` setup; in flight, one replica taking all the calls at once.
      const funkerSide = { server: funkerReuse(concurrency), replicas: 1, caller: "funker-kept" as const };
      const rounds = await throughputAgainst(
        settings,
        funkerSide,
        peers.map((peer) => ({ server: peer.server, replicas: 1, caller: peer.caller })),
        concurrency,
      );
      const figure = (pick: (rounds: RoundMeasurement[], serverCpu: number[]) => number[]): PeerPair[] =>
        rounds.map((pair) => ({ funker: pick(pair.funker, pair.serverCpu.funker), peer: pick(pair.baseline, pair.serverCpu.baseline) }));
      const totalCpu = (measured: RoundMeasurement[], serverCpu: number[]): number[] =>
        measured.map((round, index) => round.cpuMicrosPerCall + (serverCpu[index] as number));
      const calls = figure(callsPerSecond);
      const fastest = bestRpcPeer(calls, "higher");
      const rows: Row[] = [
        ...peerRows(this.title, "calls/s", "calls/s", calls, fastest, "fastest", { rpc: { op: ">=", value: 2 }, nodeHttp: { op: ">=", value: nodeHttpGoal } }),
        ...peerRows(this.title, "p50 latency", "ms", figure(p50), fastest, "fastest", { rpc: { op: "<=", value: 0.5 } }),
        ...peerRows(this.title, "p99 latency", "ms", figure(p99), fastest, "fastest", {}),
        ...peerRows(this.title, "CPU µs per call, caller + server", "µs", figure(totalCpu), fastest, "fastest", { rpc: { op: "<=", value: 0.5 } }),
        ...peerRows(this.title, "caller CPU µs per call", "µs", figure(cpuPerCall), fastest, "fastest", {}),
        ...peerRows(this.title, "server CPU µs per call", "µs", figure((_, serverCpu) => serverCpu), fastest, "fastest", {}),
      ];
      const funkerSetup =
        concurrency === 1
          ? "Funker: the `kept` setup (the client's default pool, one reuse-mode replica)."
          : `Funker: one reuse-mode replica with FUNKER_CONCURRENCY=${concurrency}, the client's default pool (a kept connection per call in flight); gRPC and Connect over HTTP/2 carry the ${concurrency} calls on one connection, Connect over HTTP/1.1 and node:http on a kept connection per call in flight.`;
      return {
        rows,
        notes: [
          `fastest by median calls/s: ${ranking(calls, "higher", (value) => `${Math.round(value).toLocaleString("en-US")} calls/s`)}. The goals compare with ${(peers[fastest] as Peer).name}, the fastest of gRPC and Connect, and with node:http.`,
          funkerSetup,
        ],
      };
    },
  };
}

/** A server process and its first call: a peer, or Funker's side. */
type ServerProcess = Pick<Peer, "server" | "firstCall">;

/** Funker's side of the whole-process scenarios: a reuse-mode replica, the server a service would run. */
const funkerServer: ServerProcess = { server: funkerReuse(), firstCall: framedExchangeKept };

/** Whole-process figures against every peer, interleaved in each round: peer 1, Funker, peer 2, Funker, … */
async function wholeProcessPairs(settings: Settings, measure: (side: ServerProcess) => Promise<number>): Promise<PeerPair[]> {
  // One cycle of each first, so that every side starts from the same warm file cache (a smoke run skips it).
  if (!settings.quick) for (const side of [...peers, funkerServer]) await measure(side);
  const pairs: PeerPair[] = peers.map(() => ({ funker: [], peer: [] }));
  for (let round = 0; round < settings.rounds; round += 1) {
    for (const [index, peer] of peers.entries()) {
      const pair = pairs[index] as PeerPair;
      pair.peer.push(await measure(peer));
      pair.funker.push(await measure(funkerServer));
    }
  }
  return pairs;
}

const peersColdStart: Scenario = {
  name: "peers-cold-start",
  title: "peers, cold start to first reply",
  timeoutMs: (settings) => 60_000 + settings.rounds * peers.length * 2 * settings.cyclesPerRound * 1_000,
  async run(settings) {
    const pairs = await wholeProcessPairs(settings, ({ server, firstCall }) =>
      medianOf(settings.cyclesPerRound, () => firstReply(server, firstCall), (value) => value.replyMs),
    );
    const fastest = bestRpcPeer(pairs, "lower");
    return {
      rows: peerRows(this.title, "spawn → first reply", "ms", pairs, fastest, "fastest", { rpc: { op: "<=", value: 0.5 }, nodeHttp: { op: "<=", value: 1.1 } }),
      notes: [
        `fastest by median: ${ranking(pairs, "lower", (value) => `${value.toFixed(1)} ms`)}.`,
        "Funker: a reuse-mode replica of the bundled add example; every side is a server process that stays up, stopped after its first reply.",
      ],
    };
  },
};

const peersIdleMemory: Scenario = {
  name: "peers-idle-rss",
  title: "peers, idle RSS after one call",
  timeoutMs: (settings) => 60_000 + settings.rounds * peers.length * 2 * 2_000,
  async run(settings) {
    const pairs = await wholeProcessPairs(settings, async ({ server, firstCall }) => (await firstReply(server, firstCall, idleMs(settings))).rssMiB);
    const smallest = bestRpcPeer(pairs, "lower");
    return {
      rows: peerRows(this.title, "RSS", "MiB", pairs, smallest, "smallest", { rpc: { op: "<=", value: 1 }, nodeHttp: { op: "<=", value: 1.1 } }),
      notes: [`smallest by median: ${ranking(pairs, "lower", (value) => `${value.toFixed(1)} MiB`)}.`],
    };
  },
};

export const peerScenarios: readonly Scenario[] = [peerLoad("peers-sequential", 1, 1.5), peerLoad("peers-concurrent", 16, 2), peersColdStart, peersIdleMemory];
