import { fileURLToPath } from "node:url";
import type { Plugin } from "vitest/config";
import { defineConfig } from "vitest/config";

// Tests import workspace packages through the "@funker/source" export
// condition, so they run against src/ without a build.
const conditions = ["@funker/source", "node", "import", "module", "default"];
/**
 * Vitest hands the server-side conditions to Node as --conditions for the
 * modules it leaves to Node, where they apply to require() too: with
 * "import" among them, a CommonJS package's require() of a dual package
 * (pg requires pg-pool) would get its ES module. Vite adds "import" or
 * "require" by the kind of each import by itself.
 */
const serverConditions = conditions.filter((condition) => condition !== "import");

const dockerFolder = fileURLToPath(new URL("docker/", import.meta.url));
const cliManifest = fileURLToPath(new URL("packages/cli/package.json", import.meta.url));

/**
 * docker/ is not a workspace package: the caller image's tools import
 * @funker/* as docker/build-images.mjs bundles them, from the CLI's
 * node_modules. Their tests (docker/caller/*.test.ts) resolve them the same way.
 */
function resolveDockerToolsLikeTheirBundle(): Plugin {
  return {
    name: "funker:docker-tools-resolve",
    enforce: "pre",
    resolveId(source, importer) {
      if (!source.startsWith("@funker/") || importer === undefined || !importer.startsWith(dockerFolder)) return null;
      return this.resolve(source, cliManifest, { skipSelf: true });
    },
  };
}

export default defineConfig({
  plugins: [resolveDockerToolsLikeTheirBundle()],
  resolve: { conditions },
  ssr: { resolve: { conditions: serverConditions, externalConditions: ["@funker/source"] } },
  test: {
    // docker/caller's tests need no Docker: they run the caller image's tools against local sockets.
    include: ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts", "examples/*/test/**/*.test.ts", "docker/caller/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    typecheck: {
      enabled: true,
      include: ["packages/*/src/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ["default", "./scripts/summary-reporter.ts"],
  },
});
