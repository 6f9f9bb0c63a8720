import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { build, formatMessages } from "esbuild";
import type { Message } from "esbuild";

/** The result of bundling one function for the local runtime. */
export type BundleResult =
  | { readonly ok: true; readonly file: string; readonly inputs: readonly string[]; readonly durationMs: number }
  | { readonly ok: false; readonly message: string; readonly durationMs: number };

/**
 * Bundles a function's entry with its dependencies into one ES module under
 * `.funker/build/<name>/`, as the image build will. The `@funker/source`
 * condition lets workspace packages bundle from their src/ without a build.
 * Node built-ins stay external; everything else is inlined, so the bundle
 * runs wherever `node` does.
 */
export async function bundleFunction(options: { name: string; entry: string; root: string }): Promise<BundleResult> {
  const outputDirectory = join(options.root, ".funker", "build", options.name);
  const file = join(outputDirectory, "index.mjs");
  mkdirSync(outputDirectory, { recursive: true });
  const started = performance.now();
  try {
    const result = await build({
      absWorkingDir: options.root,
      entryPoints: [options.entry],
      outfile: file,
      // Written here, through a rename: a single-shot replica may restart at any
      // moment and must never load half a file.
      write: false,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      conditions: ["@funker/source"],
      sourcemap: "inline",
      metafile: true,
      logLevel: "silent",
      // Bundled CommonJS dependencies may call require(); give the ES module one.
      banner: { js: "import { createRequire as __funkerCreateRequire } from 'node:module'; const require = __funkerCreateRequire(import.meta.url);" },
    });
    const output = result.outputFiles.find((candidate) => candidate.path === file) ?? result.outputFiles[0];
    if (output === undefined) throw new Error("esbuild produced no output");
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, output.contents);
    renameSync(temporary, file);
    const inputs = Object.keys(result.metafile.inputs).map((input) => join(options.root, input));
    return { ok: true, file, inputs, durationMs: performance.now() - started };
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    const message =
      errors !== undefined && errors.length > 0
        ? (await formatMessages(errors, { kind: "error", color: false })).join("").trimEnd()
        : String(error);
    return { ok: false, message: message.replaceAll(`${options.root}/`, ""), durationMs: performance.now() - started };
  }
}

/** The folders to watch for a bundle's inputs: those outside node_modules, i.e. the function's and the workspace's own source. */
export function sourceFolders(inputs: readonly string[]): string[] {
  const folders = new Set<string>();
  for (const input of inputs) {
    if (input.split("/").includes("node_modules")) continue;
    folders.add(dirname(input));
  }
  return [...folders].sort();
}

export function relativeTo(root: string, path: string): string {
  return relative(root, path) || ".";
}
