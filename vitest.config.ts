import { defineConfig } from "vitest/config";

// Tests import workspace packages through the "@funker/source" export
// condition, so they run against src/ without a build.
const conditions = ["@funker/source", "node", "import", "module", "default"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["@funker/source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "examples/*/src/**/*.test.ts", "examples/*/test/**/*.test.ts"],
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
