/**
 * A/B of two builds of the client and the replica, in one run, rounds
 * interleaved (A, B, A, B, …): each side is its own caller process (a
 * bundle of `@funker/client`) calling its own replicas (a bundle of the add
 * example in reuse mode). Reports per round calls/s, caller CPU per call
 * (`process.cpuUsage`) and replicas' CPU per call (`/proc/<pid>/stat`), and
 * the median of the B/A ratios round by round.
 *
 *   node bench/scripts/ab-builds.mjs <client-a.mjs> <replica-a.mjs> <client-b.mjs> <replica-b.mjs> [kept|concurrent] [rounds] [ms]
 *
 * A client bundle: `esbuild packages/client/dist/index.js --bundle --platform=node --format=esm --outfile=…`;
 * a replica bundle: `bench/dist/image/add.mjs` as a bench run leaves it. Loopback only; every child is killed at the end.
 */
import { fork, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { pathToFileURL } from "node:url";

if (process.argv[2] === "--caller") {
  const { createClient } = await import(pathToFileURL(process.argv[3]).href);
  const endpoints = process.argv[4].split(",");
  const concurrency = Number(process.argv[5]);
  const client = createClient({ endpoints: { add: endpoints } });
  process.on("message", async (command) => {
    if (command.stop) {
      client.close();
      process.exit(0);
    }
    let calls = 0;
    let sequence = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const endsAt = started + command.ms;
    const loop = async () => {
      while (performance.now() < endsAt) {
        const x = sequence++;
        const value = await client.call("add", { x, y: 2 });
        if (value !== x + 2) throw new Error(`wrong answer ${value}`);
        calls += 1;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    process.send({ calls, callsPerSecond: (calls / elapsed) * 1000, cpuPerCall: (used.user + used.system) / calls });
  });
  process.send({ ready: true });
} else {
  const [clientA, replicaA, clientB, replicaB, scenario = "kept", roundsText = "9", msText = "2000"] = process.argv.slice(2);
  const replicas = scenario === "concurrent" ? 4 : 1;
  const concurrency = scenario === "concurrent" ? 16 : 1;
  const rounds = Number(roundsText);
  const ms = Number(msText);
  const environment = { ...process.env };
  delete environment.NODE_EXTRA_CA_CERTS;
  const children = [];
  const freePort = () =>
    new Promise((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address();
        server.close(() => resolve(port));
      });
    });
  const ticks = (pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const waitListening = async (port) => {
    for (let tries = 0; tries < 5000; tries += 1) {
      const up = await new Promise((resolve) => {
        const socket = connect(port, "127.0.0.1").on("connect", () => { socket.destroy(); resolve(true); }).on("error", () => resolve(false));
      });
      if (up) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`port ${port} never listened`);
  };
  const side = async (clientPath, replicaPath) => {
    const pids = [];
    const endpoints = [];
    for (let index = 0; index < replicas; index += 1) {
      const port = await freePort();
      const child = spawn(process.execPath, [replicaPath], {
        env: { ...environment, NODE_ENV: "production", FUNKER_PORT: String(port), FUNKER_HOST: "127.0.0.1", FUNKER_MODE: "reuse", FUNKER_LOG: "off", FUNKER_CONCURRENCY: String(concurrency / replicas) },
        stdio: "ignore",
      });
      children.push(child);
      pids.push(child.pid);
      endpoints.push(`127.0.0.1:${port}`);
      await waitListening(port);
    }
    const caller = fork(new URL(import.meta.url).pathname, ["--caller", clientPath, endpoints.join(","), String(concurrency)], { env: { ...environment, NODE_ENV: "production" } });
    children.push(caller);
    await new Promise((resolve) => caller.once("message", resolve));
    const round = async (roundMs) => {
      const before = pids.map(ticks);
      const result = await new Promise((resolve) => {
        caller.once("message", resolve);
        caller.send({ ms: roundMs });
      });
      const after = pids.map(ticks);
      const replicaMicros = after.reduce((sum, value, index) => sum + value - before[index], 0) * 10_000;
      return { ...result, replicaCpuPerCall: replicaMicros / result.calls };
    };
    return { round };
  };
  try {
    const a = await side(clientA, replicaA);
    const b = await side(clientB, replicaB);
    // Warm both (JIT, pools): 4 rounds of 2 s each, as the bench warms a caller for at least 2 s and 10,000 calls.
    for (let warm = 0; warm < 4; warm += 1) {
      await a.round(2000);
      await b.round(2000);
    }
    const ratios = { callsPerSecond: [], cpuPerCall: [], replicaCpuPerCall: [] };
    const values = { a: [], b: [] };
    for (let index = 0; index < rounds; index += 1) {
      const [first, second] = index % 2 === 0 ? [a, b] : [b, a];
      const r1 = await first.round(ms);
      const r2 = await second.round(ms);
      const ra = first === a ? r1 : r2;
      const rb = first === a ? r2 : r1;
      values.a.push(ra);
      values.b.push(rb);
      for (const key of Object.keys(ratios)) ratios[key].push(rb[key] / ra[key]);
      console.log(
        `round ${index + 1}: A ${ra.callsPerSecond.toFixed(0)} calls/s, caller ${ra.cpuPerCall.toFixed(1)} µs, replicas ${ra.replicaCpuPerCall.toFixed(1)} µs | B ${rb.callsPerSecond.toFixed(0)} calls/s, caller ${rb.cpuPerCall.toFixed(1)} µs, replicas ${rb.replicaCpuPerCall.toFixed(1)} µs`,
      );
    }
    const median = (list) => {
      const sorted = [...list].sort((x, y) => x - y);
      return sorted[Math.floor(sorted.length / 2)];
    };
    for (const key of Object.keys(ratios)) {
      console.log(`${scenario} ${key}: A ${median(values.a.map((v) => v[key])).toFixed(1)}, B ${median(values.b.map((v) => v[key])).toFixed(1)}, B/A median ${median(ratios[key]).toFixed(3)} (${Math.min(...ratios[key]).toFixed(3)}–${Math.max(...ratios[key]).toFixed(3)})`);
    }
  } finally {
    for (const child of children) child.kill("SIGKILL");
  }
}
