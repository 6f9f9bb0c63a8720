import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import { importX } from "eslint-plugin-import-x";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/.turbo/**", "**/.funker/**", "bench/results/**", "bench/src/gen/**"] },
  js.configs.recommended,
  { languageOptions: { globals: globals.node } },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
  {
    // No import cycles between modules: a cycle ties two jobs into one, and
    // its evaluation order is a trap. (The rule follows value imports; a
    // cycle of `import type` alone does nothing at run time.) The resolver
    // reads each package's exports map through the source condition, as
    // the tests do.
    files: ["**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [
        createTypeScriptImportResolver({
          project: ["packages/*/tsconfig.json", "examples/*/tsconfig.json", "bench/tsconfig.json", "docker/tsconfig.json"],
          noWarnOnMultipleProjects: true,
          conditionNames: ["@funker/source", "types", "import", "node", "default"],
        }),
      ],
    },
    rules: { "import-x/no-cycle": ["error", { ignoreExternal: true }] },
  },
  {
    // CommonJS files are 2017-style functions and fixtures, written as 2017 functions were: require() is their import.
    // The 2017 walkthrough's handler.js is CommonJS by its own (typeless) package.json.
    files: ["**/*.cjs", "docker/e2e/fixtures/seed-add/*.js"],
    languageOptions: { sourceType: "commonjs" },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // The protocol layer is pure: bytes in, messages out. Sockets, timers,
    // clocks and the process belong to the handler and the client, so that
    // the protocol stays deterministic and portable.
    files: ["packages/protocol/src/**/*.ts"],
    ignores: ["packages/protocol/src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(node:)?(net|tls|dgram|dns|http|https|http2|fs|fs/promises|child_process|cluster|worker_threads|timers|timers/promises|process|os)$",
              message: "@funker/protocol is pure: no I/O, timers or process access.",
            },
            { regex: "^@funker/", message: "@funker/protocol is the bottom layer and imports no other package." },
          ],
        },
      ],
      "no-restricted-globals": [
        "error",
        ...["process", "setTimeout", "setInterval", "setImmediate", "queueMicrotask", "fetch", "Buffer", "require"].map((name) => ({
          name,
          message: "@funker/protocol is pure: no I/O, timers or process access.",
        })),
      ],
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "The protocol takes times as arguments; it never reads the clock." },
        { object: "Math", property: "random", message: "The protocol is deterministic; callers supply ids." },
      ],
    },
  },
  {
    // Adapters and apps import other packages only through their public entry.
    files: ["packages/*/src/**/*.ts", "examples/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        { patterns: [{ regex: "^@funker/[^/]+/src", message: "Import a package through its exports map." }] },
      ],
    },
    ignores: ["packages/protocol/src/**/*.ts"],
  },
);
