import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// The Docker stage: end-to-end tests against a real engine and a one-node
// Swarm (docker/setup-docker.sh brings them up). Kept apart from the root
// config so that `pnpm test` never needs Docker; run with
// `vitest run --config docker/vitest.config.ts`.
const conditions = ["@funker/source", "node", "import", "module", "default"];

export default defineConfig({
  root: fileURLToPath(new URL("..", import.meta.url)),
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@funker/source"] } },
  test: {
    include: ["docker/e2e/**/*.test.ts"],
    globalSetup: ["docker/e2e/global-setup.ts"],
    // One engine and two cores: the files run one after the other, in name order.
    fileParallelism: false,
    sequence: { shuffle: false },
    testTimeout: 180_000,
    hookTimeout: 240_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
