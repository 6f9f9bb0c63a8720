import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The multi-node stage: end-to-end tests on a three-node Swarm that
// docker/cluster/cluster.sh builds on this one machine (network namespaces,
// an engine in each, a registry). Kept apart from docker/vitest.config.ts,
// which needs only the host's one-node Swarm. Needs root. Run with
// `pnpm test:cluster` (FUNKER_CLUSTER_FULL=1 for the longer load whose
// figures bench/results/multi-node.md keeps).
const root = fileURLToPath(new URL("..", import.meta.url));
const conditions = ["@funker/source", "node", "import", "module", "default"];

// Every `docker` command of this stage, Funker's own included, talks to the
// cluster's manager unless it names another node (`-H`): set before the
// global setup and the test workers start, so both inherit it.
const layout = JSON.parse(execFileSync("bash", ["docker/cluster/cluster.sh", "describe"], { cwd: root, encoding: "utf8" })) as { nodes: { socket: string }[] };
process.env["DOCKER_HOST"] = `unix://${layout.nodes[0]?.socket}`;

export default defineConfig({
  root,
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@funker/source"] } },
  test: {
    include: ["docker/cluster-e2e/**/*.test.ts"],
    globalSetup: ["docker/cluster-e2e/global-setup.ts"],
    // Three engines share two cores: one file at a time, in name order.
    fileParallelism: false,
    sequence: { shuffle: false },
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
