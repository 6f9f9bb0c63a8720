import { spawn } from "node:child_process";
import { runDocker } from "../../packages/cli/src/internal.js";
import { docker, waitFor } from "../e2e/support.js";

/**
 * The check `funker deploy` is to run when funker.yml asks for an encrypted
 * network: Docker creates one (`--opt encrypted`) and starts tasks on it on
 * any kernel, but where the kernel has no IPsec (ESP with AES-GCM) the
 * engine only logs "Failed Adding …: function not implemented" and traffic
 * between nodes is dropped without a word. Plain Docker, nothing left
 * running: a global service (one task per node) listens on the network, one
 * container on the engine Funker talks to connects to every task, and the
 * service is removed.
 */
export interface OverlayProbe {
  /** The node whose container connected. */
  readonly from: string;
  /** Hostnames of the nodes whose task answered. */
  readonly reached: readonly string[];
  /** Hostnames of the nodes whose task did not answer within the time limit. */
  readonly unreached: readonly string[];
}

/** How long the probe waits for each connection: far above a cross-node round trip, short enough to fail fast. */
const PROBE_CONNECT_MS = 2_000;

// Runs in the probe's tasks: answers every connection with the node's hostname.
const LISTENER = `require("node:net").createServer((socket) => socket.end(process.env.PROBE_NODE + "\\n")).listen(9999)`;
// Runs in the one-off container: connects to every task of the probe, prints {"address": "node" | "unreached"}.
const CONNECTOR = `
const { resolve4 } = require("node:dns/promises");
const { connect } = require("node:net");
const probe = (address) => new Promise((done) => {
  const socket = connect(9999, address);
  let answer = "";
  socket.setTimeout(${PROBE_CONNECT_MS}, () => { socket.destroy(); done("unreached"); });
  socket.on("data", (chunk) => (answer += chunk));
  socket.on("end", () => done(answer.trim()));
  socket.on("error", () => done("unreached"));
});
resolve4("tasks." + process.argv[1]).then(async (addresses) => {
  const found = {};
  for (const address of addresses) found[address] = await probe(address);
  process.stdout.write(JSON.stringify(found) + "\\n");
});`;

/**
 * Probes `network` from a container on the engine Docker talks to (the
 * manager) to a task on every Ready node. `image` needs `node` (the caller
 * image has it).
 */
export async function probeOverlay(options: { network: string; image: string; name: string; labels?: Record<string, string> }): Promise<OverlayProbe> {
  const labels = Object.entries(options.labels ?? {}).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
  const nodes = (await docker(["node", "ls", "--format", "{{.Hostname}} {{.Status}}"]))
    .split("\n")
    .filter((line) => line.endsWith(" Ready"))
    .map((line) => line.split(" ")[0] ?? "");
  await docker([
    "service", "create", "--detach", "--name", options.name, "--mode", "global", "--network", options.network, "--endpoint-mode", "dnsrr",
    "--restart-condition", "none", "--env", "PROBE_NODE={{.Node.Hostname}}", "--no-resolve-image", ...labels, options.image, "node", "-e", LISTENER,
  ]);
  try {
    await waitFor(`the probe to run on ${nodes.length} nodes`, async () => {
      const running = await docker(["service", "ps", options.name, "--filter", "desired-state=running", "--format", "{{.CurrentState}}"]);
      return running.split("\n").filter((state) => state.startsWith("Running")).length === nodes.length ? true : undefined;
    }, 60_000);
    // The task addresses reach every node's DNS a moment after the tasks run.
    const found = await waitFor("every probe task in DNS", async () => {
      const run = await runDocker(["run", "--rm", "--net", options.network, ...labels, options.image, "node", "-e", CONNECTOR, options.name]);
      if (run.code !== 0) throw new Error(`the probe's connector failed:\n${run.stderr}`);
      const answers = JSON.parse(run.stdout) as Record<string, string>;
      return Object.keys(answers).length === nodes.length ? answers : undefined;
    }, 30_000);
    const from = (await docker(["info", "--format", "{{.Name}}"])).trim();
    const reached = Object.values(found).filter((answer) => answer !== "unreached").sort();
    return { from, reached, unreached: nodes.filter((host) => !reached.includes(host)).sort() };
  } finally {
    await runDocker(["service", "rm", options.name]);
  }
}

/**
 * What `funker deploy` should print (and fail with) when an encrypted
 * network does not carry traffic between nodes; undefined when it does.
 */
export function encryptedNetworkProblem(network: string, probe: OverlayProbe): string | undefined {
  if (probe.unreached.length === 0) return undefined;
  return [
    `network ${network} is encrypted (--opt encrypted: IPsec between nodes), but it carries nothing between nodes here:`,
    `from ${probe.from}, ${probe.unreached.join(", ")} cannot be reached over it (${probe.reached.join(", ") || "no node"} can).`,
    "Docker encrypts overlay traffic with IPsec ESP in AES-GCM (rfc4106(gcm(aes))); a kernel without ESP or GCM",
    "(CONFIG_INET_ESP, CONFIG_CRYPTO_GCM) takes the network, runs the tasks, and drops their traffic between nodes;",
    "the engine only logs \"Failed Adding ...: function not implemented\".",
    "Use a network without encryption on these nodes, or nodes whose kernels have IPsec.",
  ].join("\n");
}

/**
 * Whether this machine's kernel can hold the IPsec state Docker's encrypted
 * overlay installs (ESP, transport mode, AES-GCM), tried in a network
 * namespace of its own that vanishes with the command. `detail` is the
 * kernel's answer.
 */
export function kernelCarriesEncryptedOverlay(): Promise<{ supported: boolean; detail: string }> {
  const key = `0x${"ab".repeat(20)}`;
  const args = ["--net", "ip", "xfrm", "state", "add", "src", "10.0.0.1", "dst", "10.0.0.2", "proto", "esp", "spi", "0x100", "reqid", "1", "mode", "transport", "aead", "rfc4106(gcm(aes))", key, "64"];
  return new Promise((resolve) => {
    const child = spawn("unshare", args, { stdio: ["ignore", "ignore", "pipe"] });
    let detail = "";
    child.stderr.on("data", (chunk: Buffer) => (detail += chunk.toString()));
    child.on("error", (error) => resolve({ supported: false, detail: error.message }));
    child.on("close", (code) => resolve({ supported: code === 0, detail: detail.trim() || "ESP with rfc4106(gcm(aes)) accepted" }));
  });
}
