import { dirname, join } from "node:path";
import { bundleEntry } from "../bundle.js";
import type { FunctionSpec, FunkerConfig } from "../config/funker-yml.js";

/** The base image of function images: Node's official slim image, the one the handler is tested on. */
export const FUNCTION_BASE_IMAGE = "node:20-bookworm-slim";
/** The file name of a function's bundle inside its image (and its build context). */
export const BUNDLE_FILE_NAME = "handler.mjs";
/** Where `funker build` lays out each function's build context, under the folder of funker.yml. */
export const IMAGE_BUILD_FOLDER = join(".funker", "image");

/**
 * The Dockerfile of a function bundled by `funker build`: one file on Node's
 * slim image, nothing installed, so the image is the base plus the bundle.
 *
 * - `USER node`: a function serves strangers' arguments; it needs no root.
 * - Node runs as PID 1 and the handler installs its own SIGTERM handler (PID 1
 *   gets no default one), so `docker stop` and scale-downs finish the call in
 *   progress; STOPSIGNAL says so explicitly.
 * - No HEALTHCHECK: the handler has no health endpoint, and a TCP probe on
 *   9999 would be a connection, which a single-shot replica takes as its one
 *   call. Swarm's task state (running, exited) is the health signal here.
 * - Each volume target (`volumeTargets`) is created in the image, owned by
 *   `node`: Docker copies a folder's ownership into an empty named volume
 *   when it is first mounted there (under Swarm and Compose alike), so a new
 *   volume is writable by the function without a root step at deploy time.
 */
export function functionDockerfile(baseImage: string = FUNCTION_BASE_IMAGE, volumeTargets: readonly string[] = []): string {
  const folders = volumeTargets.map((target) => `'${target.replaceAll("'", "'\\''")}'`).join(" ");
  // The base image ends as `node`, who cannot make a folder at /: the step runs as root.
  const volumeFolders = volumeTargets.length === 0 ? "" : `USER root\nRUN mkdir -p ${folders} && chown node:node ${folders}\n`;
  return `# A Funker function, bundled by \`funker build\` into one file with its dependencies.
FROM ${baseImage}
WORKDIR /function
COPY ${BUNDLE_FILE_NAME} ./
ENV NODE_ENV=production
${volumeFolders}USER node
EXPOSE 9999
STOPSIGNAL SIGTERM
CMD ["node", "${BUNDLE_FILE_NAME}"]
`;
}

/** One image `funker build` will produce. */
export interface ImageBuildStep {
  readonly function: string;
  readonly image: string;
  /** The module to bundle into the context, or undefined when the function brings its own Dockerfile. */
  readonly bundleEntry: string | undefined;
  /** The build context folder, absolute. */
  readonly context: string;
  /** The Dockerfile, absolute; for bundled functions it is written into the context. */
  readonly dockerfile: string;
  /** The text to write to `dockerfile` before building; undefined when the function brings its own. */
  readonly dockerfileText: string | undefined;
  /** The arguments of `docker` that build the image. */
  readonly dockerArgs: readonly string[];
}

export interface ImageBuildOptions {
  /** Only these functions (by name); all when absent or empty. */
  readonly only?: readonly string[];
  /** Replaces the tag of every image (e.g. a test-only tag); the function's `image` otherwise. */
  readonly imageFor?: (spec: FunctionSpec) => string;
  readonly baseImage?: string;
  /** Extra labels for every image (`io.funker.function` is always set). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Plans the builds of `funker build`, without touching anything: each
 * function is bundled into `.funker/image/<name>/` and built from there with
 * Funker's Dockerfile, so the build context is two small files and the build
 * needs no registry nor `npm install`; a function with a `dockerfile` of its
 * own is built from that file's folder instead.
 */
export function planImageBuilds(config: FunkerConfig, options: ImageBuildOptions = {}): ImageBuildStep[] {
  const only = options.only !== undefined && options.only.length > 0 ? new Set(options.only) : undefined;
  if (only !== undefined) {
    const unknown = [...only].filter((name) => !config.functions.some((spec) => spec.name === name));
    if (unknown.length > 0) throw new Error(`no function ${unknown.map((name) => `"${name}"`).join(", ")} in ${config.file}`);
  }
  const steps: ImageBuildStep[] = [];
  for (const spec of config.functions) {
    if (only !== undefined && !only.has(spec.name)) continue;
    const image = options.imageFor?.(spec) ?? spec.image;
    const labels = { "io.funker.function": spec.name, "io.funker.stack": config.name, ...options.labels };
    const labelArgs = Object.entries(labels).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
    if (spec.dockerfile !== undefined) {
      const context = dirname(spec.dockerfile);
      steps.push({
        function: spec.name,
        image,
        bundleEntry: undefined,
        context,
        dockerfile: spec.dockerfile,
        dockerfileText: undefined,
        dockerArgs: ["build", "--tag", image, ...labelArgs, "--file", spec.dockerfile, context],
      });
      continue;
    }
    const context = join(config.root, IMAGE_BUILD_FOLDER, spec.name);
    const dockerfile = join(context, "Dockerfile");
    steps.push({
      function: spec.name,
      image,
      bundleEntry: spec.entry,
      context,
      dockerfile,
      dockerfileText: functionDockerfile(options.baseImage, spec.volumes.map((volume) => volume.target)),
      dockerArgs: ["build", "--tag", image, ...labelArgs, "--file", dockerfile, context],
    });
  }
  return steps;
}

export type ImageBundleResult =
  | { readonly ok: true; readonly file: string; readonly bytes: number; readonly durationMs: number }
  | { readonly ok: false; readonly message: string; readonly durationMs: number };

/**
 * Bundles a function's entry with every dependency into one ES module for an
 * image. Unlike the `funker dev` bundle it carries no source map: an image
 * should start as fast as it can (single-shot replicas start once per call),
 * and the bundle is not minified, so its stack traces stay readable.
 */
export async function bundleForImage(options: { entry: string; outputFile: string; workingDirectory: string }): Promise<ImageBundleResult> {
  const outcome = await bundleEntry({ ...options, sourcemap: false });
  if (!outcome.ok) return outcome;
  return { ok: true, file: outcome.file, bytes: outcome.bytes, durationMs: outcome.durationMs };
}
