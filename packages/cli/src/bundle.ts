import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { build, formatMessages } from "esbuild";
import type { Message } from "esbuild";
import { funkerWorkspaceAt } from "./workspace.js";

/** The result of bundling one function for the local runtime. */
export type BundleResult =
  | { readonly ok: true; readonly file: string; readonly inputs: readonly string[]; readonly durationMs: number }
  | { readonly ok: false; readonly message: string; readonly durationMs: number };

/** One bundle written to disk, or why esbuild refused the entry. */
export type BundleOutcome =
  | { readonly ok: true; readonly file: string; readonly bytes: number; readonly inputs: readonly string[]; readonly durationMs: number }
  | { readonly ok: false; readonly message: string; readonly durationMs: number };

/**
 * Bundles an entry with every dependency into one ES module, as both the
 * local runtime and the images run it. Node built-ins stay external;
 * everything else is inlined, so the bundle runs wherever `node` does. In
 * the Funker repository the `@funker/source` condition lets its packages
 * bundle from their src/ without a build; elsewhere they bundle from their
 * dist/, which holds the private packages their src/ imports. The file is written through a rename: a single-shot
 * replica may restart at any moment and must never load half a file.
 */
export async function bundleEntry(options: {
  entry: string;
  outputFile: string;
  workingDirectory: string;
  /** Inline source maps (the local runtime) or none (images, which start once per call and should start fast). */
  sourcemap: boolean;
}): Promise<BundleOutcome> {
  const started = performance.now();
  mkdirSync(dirname(options.outputFile), { recursive: true });
  try {
    const result = await build({
      absWorkingDir: options.workingDirectory,
      entryPoints: [options.entry],
      outfile: options.outputFile,
      write: false,
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      conditions: funkerWorkspaceAt(options.workingDirectory) !== undefined ? ["@funker/source"] : [],
      ...(options.sourcemap ? { sourcemap: "inline" as const } : { legalComments: "eof" as const }),
      metafile: true,
      logLevel: "silent",
      // Bundled CommonJS dependencies may call require(); give the ES module one.
      banner: { js: "import { createRequire as __funkerCreateRequire } from 'node:module'; const require = __funkerCreateRequire(import.meta.url);" },
    });
    const output = result.outputFiles.find((candidate) => candidate.path === options.outputFile) ?? result.outputFiles[0];
    if (output === undefined) throw new Error("esbuild produced no output");
    const temporary = `${options.outputFile}.${process.pid}.tmp`;
    writeFileSync(temporary, output.contents, { mode: 0o644 });
    renameSync(temporary, options.outputFile);
    const inputs = Object.keys(result.metafile.inputs).map((input) => join(options.workingDirectory, input));
    return { ok: true, file: options.outputFile, bytes: output.contents.byteLength, inputs, durationMs: performance.now() - started };
  } catch (error) {
    const errors = (error as { errors?: Message[] }).errors;
    const message =
      errors !== undefined && errors.length > 0
        ? (await formatMessages(errors, { kind: "error", color: false })).join("").trimEnd()
        : String(error);
    return { ok: false, message: message.replaceAll(`${options.workingDirectory}/`, ""), durationMs: performance.now() - started };
  }
}

/** Bundles a function for the local runtime, under `.funker/build/<name>/`. */
export async function bundleFunction(options: { name: string; entry: string; root: string }): Promise<BundleResult> {
  const outputFile = join(options.root, ".funker", "build", options.name, "index.mjs");
  const outcome = await bundleEntry({ entry: options.entry, outputFile, workingDirectory: options.root, sourcemap: true });
  if (!outcome.ok) return outcome;
  return { ok: true, file: outcome.file, inputs: outcome.inputs, durationMs: outcome.durationMs };
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
