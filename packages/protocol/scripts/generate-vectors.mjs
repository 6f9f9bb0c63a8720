// Regenerates test-vectors/vectors.json from the encoders. The vectors are
// built by src/test-vectors.test.ts, the same code that checks the file, so
// what is written is exactly what the test accepts.
import { spawnSync } from "node:child_process";
import process from "node:process";
import { URL, fileURLToPath } from "node:url";

const repositoryRoot = fileURLToPath(new URL("../../../", import.meta.url));
const result = spawnSync("npx", ["vitest", "run", "packages/protocol/src/test-vectors.test.ts"], {
  cwd: repositoryRoot,
  env: { ...process.env, FUNKER_UPDATE_VECTORS: "1" },
  stdio: "inherit",
  shell: process.platform === "win32",
});
process.exit(result.status ?? 1);
