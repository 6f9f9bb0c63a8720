import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/**
 * The root of the Funker repository holding `path` (a pnpm workspace with
 * @funker/handler in packages/handler), or undefined outside it.
 */
export function funkerWorkspaceAt(path: string): string | undefined {
  let folder = resolve(path);
  for (;;) {
    const handlerManifest = join(folder, "packages", "handler", "package.json");
    if (existsSync(join(folder, "pnpm-workspace.yaml")) && existsSync(handlerManifest)) {
      const manifest = JSON.parse(readFileSync(handlerManifest, "utf8")) as { name?: string };
      if (manifest.name === "@funker/handler") return folder;
    }
    const parent = dirname(folder);
    if (parent === folder) return undefined;
    folder = parent;
  }
}
