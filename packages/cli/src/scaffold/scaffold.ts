import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { isMap, parseDocument } from "yaml";
import { CONFIG_FILE_NAME, findConfigFile, functionNameProblem } from "../config/funker-yml.js";
import type { FunctionMode } from "../config/funker-yml.js";
import { ExitCode } from "../exit-code.js";
import { UsageError } from "../usage-error.js";
import { packageVersion } from "../version.js";
import { funkerWorkspaceAt } from "../workspace.js";

export interface NewCommand {
  readonly name: string;
  /** Default `./<name>`. */
  readonly directory: string | undefined;
  /** Default: the nearest funker.yml, else `./funker.yml`. */
  readonly configFile: string | undefined;
  /** Default `single-shot`. */
  readonly mode?: FunctionMode | undefined;
  /** Default `ts`. */
  readonly language?: ScaffoldLanguage | undefined;
  /** A folder of tarballs written by `pnpm pack:local`: the function installs Funker's packages from them. */
  readonly packagesFolder?: string | undefined;
}

/** The validator of a new function's arguments: valibot, whose bundle holds only the functions used. */
const VALIBOT_VERSION = "^1.5.0";

/** The languages `funker new` writes a function in. */
export const SCAFFOLD_LANGUAGES = ["ts", "js"] as const;
export type ScaffoldLanguage = (typeof SCAFFOLD_LANGUAGES)[number];

/**
 * Where a new function gets Funker's packages: one range for all of them
 * (`^0.1.0` from the registry, `workspace:^` in the Funker repository), or
 * a tarball per package (`file:` specifiers), which npm's `overrides` also
 * give to the tarballs' own dependencies on each other.
 */
export type PackageSource = { readonly range: string } | { readonly tarballs: Readonly<Record<string, string>> };

/** The packages a function's tarball install needs: its own three and what they depend on. */
const PUBLISHED_PACKAGES = ["@funker/protocol", "@funker/handler", "@funker/client", "@funker/testing", "@funker/autoscaler", "@funker/cli"] as const;

/** What src/handler.ts says about how it is served, by mode. */
const SERVED: Readonly<Record<FunctionMode, string>> = {
  "single-shot": `// Serves one call on port 9999 (FUNKER_PORT) and exits; Docker, or
// \`funker dev\`, starts a fresh replica for the next call.`,
  reuse: `// Serves call after call on port 9999 (FUNKER_PORT) in this one process
// (mode: reuse in funker.yml): keep no state from one caller to the next.`,
  fresh: `// Mode fresh (funker.yml): the replica keeps processes of this program
// started and waiting on port 9999 (FUNKER_PORT); each call runs in one of
// them, which serves it and exits, and a replacement starts meanwhile.`,
};

/** The files of a new function, by path relative to its folder. */
export function scaffoldFiles(
  name: string,
  packages: PackageSource,
  options: { readonly mode?: FunctionMode | undefined; readonly language?: ScaffoldLanguage | undefined } = {},
): Record<string, string> {
  const mode = options.mode ?? "single-shot";
  const language = options.language ?? "ts";
  const funker = (packageName: string): string => ("range" in packages ? packages.range : (packages.tarballs[packageName] as string));
  const manifest = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: {
      test: "vitest run",
      ...(language === "ts" ? { typecheck: "tsc -p tsconfig.json" } : {}),
      bundle: `esbuild src/handler.${language} --bundle --platform=node --format=esm --target=node20 --outfile=dist/handler.mjs`,
    },
    dependencies: { "@funker/handler": funker("@funker/handler"), valibot: VALIBOT_VERSION },
    devDependencies: {
      "@funker/cli": funker("@funker/cli"),
      "@funker/testing": funker("@funker/testing"),
      ...(language === "ts" ? { "@types/node": "^20.19.0" } : {}),
      esbuild: "^0.27.0",
      ...(language === "ts" ? { typescript: "~5.9.0" } : {}),
      vitest: "^4.0.0",
    },
    ...("tarballs" in packages ? { overrides: packages.tarballs } : {}),
  };
  const common = {
    "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
    [`vitest.config.${language}`]: `import { defineConfig } from "vitest/config";

// This folder's tests with this configuration: without a file here, vitest
// would take the first vitest.config above this folder (a monorepo's).
export default defineConfig({ test: { include: ["src/**/*.test.${language}"] } });
`,
    Dockerfile: dockerfile(name),
    ".dockerignore": "node_modules\ndist\n",
    "README.md": readme(name, language),
  };
  return language === "ts" ? { ...common, ...typeScriptFiles(name, mode) } : { ...common, ...javaScriptFiles(name, mode) };
}

function typeScriptFiles(name: string, mode: FunctionMode): Record<string, string> {
  const identifier = camelCase(name);
  const typeName = `${identifier[0]?.toUpperCase() ?? ""}${identifier.slice(1)}Args`;
  return {
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          noUncheckedIndexedAccess: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          noEmit: true,
        },
        include: ["src"],
      },
      null,
      2,
    )}\n`,
    [`src/${name}.ts`]: `import * as v from "valibot";

/**
 * The arguments of ${name}, as a schema: src/handler.ts has the handler check
 * each call's arguments against it, and refuse others with bad_arguments
 * naming the field, before the function runs. valibot rather than zod: its
 * functions are imported one by one, so the bundle holds only those used
 * here, where zod's object brings the whole library. Any Standard Schema
 * validator fits (zod, arktype, …).
 */
export const ${typeName} = v.object({ name: v.optional(v.string()) });
export type ${typeName} = v.InferOutput<typeof ${typeName}>;

/**
 * The function itself: plain TypeScript, tested directly. src/handler.ts
 * serves it as a Funker function.
 */
export function ${identifier}({ name = "world" }: ${typeName}): string {
  return \`Hello, \${name}!\`;
}
`,
    "src/handler.ts": `import { handler } from "@funker/handler";
import { ${identifier}, ${typeName} } from "./${name}.js";

${SERVED[mode]}
// Arguments that do not match ${typeName} are refused with bad_arguments.
handler(${identifier}, { schema: ${typeName} });
`,
    [`src/${name}.test.ts`]: testFile(name, identifier, typeName, "ts"),
  };
}

function javaScriptFiles(name: string, mode: FunctionMode): Record<string, string> {
  const identifier = camelCase(name);
  const typeName = `${identifier[0]?.toUpperCase() ?? ""}${identifier.slice(1)}Args`;
  return {
    [`src/${name}.js`]: `import * as v from "valibot";

/**
 * The arguments of ${name}, as a schema: src/handler.js has the handler check
 * each call's arguments against it, and refuse others with bad_arguments
 * naming the field, before the function runs. valibot rather than zod: its
 * functions are imported one by one, so the bundle holds only those used.
 */
export const ${typeName} = v.object({ name: v.optional(v.string()) });

/**
 * The function itself: plain JavaScript, tested directly. src/handler.js
 * serves it as a Funker function.
 * @param {{ name?: string }} args
 * @returns {string}
 */
export function ${identifier}({ name = "world" }) {
  return \`Hello, \${name}!\`;
}
`,
    "src/handler.js": `import { handler } from "@funker/handler";
import { ${identifier}, ${typeName} } from "./${name}.js";

${SERVED[mode]}
// Arguments that do not match ${typeName} are refused with bad_arguments.
handler(${identifier}, { schema: ${typeName} });
`,
    [`src/${name}.test.js`]: testFile(name, identifier, typeName, "js"),
  };
}

function testFile(name: string, identifier: string, typeName: string, language: ScaffoldLanguage): string {
  const wrongName = language === "ts" ? "{ name: 42 } as never" : "{ name: 42 }";
  return `import { startFunction } from "@funker/testing";
import { describe, expect, it } from "vitest";
import { ${identifier}, ${typeName} } from "./${name}.js";

describe("${name}", () => {
  it("greets by name", () => {
    expect(${identifier}({ name: "Ada" })).toBe("Hello, Ada!");
  });

  it("answers a call over Funker's protocol, and refuses arguments that do not match its schema", async () => {
    const running = await startFunction(${identifier}, { schema: ${typeName} });
    try {
      expect(await running.call({ name: "Ada" })).toBe("Hello, Ada!");
      await expect(running.call(${wrongName})).rejects.toMatchObject({ code: "bad_arguments", message: expect.stringMatching(/ at name$/) });
    } finally {
      await running.close();
    }
  });
});
`;
}

function dockerfile(name: string): string {
  return `# A Funker function image: the function bundled into one file, on Node's
# slim image, as the unprivileged node user. Build: docker build -t ${name} .
FROM node:20-bookworm-slim AS build
WORKDIR /build
COPY package.json ./
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run bundle

FROM node:20-bookworm-slim
WORKDIR /function
COPY --from=build /build/dist/handler.mjs ./handler.mjs
ENV NODE_ENV=production
USER node
EXPOSE 9999
CMD ["node", "handler.mjs"]
`;
}

function readme(name: string, language: ScaffoldLanguage): string {
  return `# ${name}

A Funker function. \`src/${name}.${language}\` is the function, \`src/handler.${language}\` serves
it on port 9999, \`src/${name}.test.${language}\` tests it.

\`\`\`sh
npm install                      # in a pnpm workspace: pnpm install, at its root
npm test                         # its tests (vitest; pnpm test works as well)
npx funker dev                   # runs it locally with every function of funker.yml
npx funker call ${name} name=Ada    # in another terminal: "Hello, Ada!"
npx funker call ${name} name=42     # error bad_arguments: … at name (src/${name}.${language}'s schema)
docker build -t ${name} .
\`\`\`

Its tests live beside it in \`src/\`, and \`vitest.config.${language}\` keeps
them to this folder. \`funker.yml\`, which lists the functions \`funker dev\`
runs, is in the folder above (or further up); \`funker new\` added this
function to it. In a pnpm workspace (the Funker repository's \`examples/\`,
for one) this folder is a workspace package: \`pnpm install\` at the root
links its dependencies, and the workspace's own \`pnpm test\` runs its tests
when the workspace's test configuration includes them.
`;
}

/** `funker new <name>`: writes the files and adds the function to funker.yml. */
export function runNew(command: NewCommand): number {
  const problem = functionNameProblem(command.name);
  if (problem !== undefined) throw new UsageError(problem);
  const directory = resolve(command.directory ?? command.name);
  if (existsSync(join(directory, "package.json")) || existsSync(join(directory, "src", "handler.ts")) || existsSync(join(directory, "src", "handler.js"))) {
    throw new UsageError(`${directory} already holds a package; choose another --dir`);
  }
  // The nearest funker.yml above the new folder, else a new one beside it: `--dir ../app/greet` goes with ../app's.
  const configFile =
    command.configFile !== undefined ? resolve(command.configFile) : (findConfigFile(dirname(directory)) ?? join(dirname(directory), CONFIG_FILE_NAME));

  const mode = command.mode ?? "single-shot";
  const packages: PackageSource =
    command.packagesFolder !== undefined ? { tarballs: tarballsIn(resolve(command.packagesFolder)) } : { range: dependencyRangeFor(directory) };
  const files = scaffoldFiles(command.name, packages, { mode, language: command.language });
  const entry = relative(dirname(configFile), directory) || ".";
  addToConfig(configFile, command.name, entry, mode);
  for (const [path, content] of Object.entries(files)) {
    const file = join(directory, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  const shown = relative(process.cwd(), directory) || ".";
  process.stdout.write(
    `created ${shown}/ (${Object.keys(files).length} files) and added "${command.name}" to ${relative(process.cwd(), configFile) || configFile}\n` +
      `next: install its dependencies in ${shown}/ (npm install), then run its test (npm test) and \`npx funker dev\`\n`,
  );
  return ExitCode.ok;
}

/**
 * The tarballs `pnpm pack:local` wrote (funker-<name>-<version>.tgz), as
 * `file:` specifiers by package name; every package a function's install
 * needs must be there, once.
 */
function tarballsIn(folder: string): Record<string, string> {
  if (!existsSync(folder)) throw new UsageError(`--packages: ${folder} does not exist; write the tarballs with \`pnpm pack:local <folder>\` in a clone of Funker`);
  const found = new Map<string, string[]>();
  for (const file of readdirSync(folder)) {
    const match = /^funker-([a-z0-9-]+?)-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tgz$/.exec(file);
    if (match === null) continue;
    const name = `@funker/${match[1] ?? ""}`;
    found.set(name, [...(found.get(name) ?? []), file]);
  }
  const tarballs: Record<string, string> = {};
  for (const name of PUBLISHED_PACKAGES) {
    const files = found.get(name) ?? [];
    if (files.length === 0) throw new UsageError(`--packages: ${folder} has no tarball of ${name}; write them with \`pnpm pack:local <folder>\` in a clone of Funker`);
    if (files.length > 1) throw new UsageError(`--packages: ${folder} has ${files.length} tarballs of ${name} (${files.join(", ")}); keep one`);
    tarballs[name] = `file:${join(folder, files[0] as string)}`;
  }
  return tarballs;
}

function addToConfig(configFile: string, name: string, entry: string, mode: FunctionMode): void {
  const text = existsSync(configFile) ? readFileSync(configFile, "utf8") : "version: 1\nfunctions: {}\n";
  const document = parseDocument(text);
  if (document.errors.length > 0) throw new UsageError(`${configFile} does not parse; fix it first (funker ls shows where)`);
  const functions = document.get("functions", true);
  if (functions !== undefined && !isMap(functions)) throw new UsageError(`${configFile}: "functions" is not a mapping`);
  if (isMap(functions) && functions.has(name)) throw new UsageError(`${configFile} already has a function "${name}"`);
  document.setIn(["functions", name], document.createNode({ entry, replicas: 1, mode }));
  const functionsNode = document.get("functions", true);
  if (isMap(functionsNode)) functionsNode.flow = false;
  mkdirSync(dirname(configFile), { recursive: true });
  writeFileSync(configFile, document.toString());
}

/**
 * Inside the Funker repository the function depends on the workspace's own
 * packages; elsewhere on the released version matching this CLI.
 */
function dependencyRangeFor(directory: string): string {
  return funkerWorkspaceAt(directory) !== undefined ? "workspace:^" : `^${packageVersion()}`;
}

function camelCase(name: string): string {
  const words = name.split("-").filter((word) => word !== "");
  const joined = words.map((word, index) => (index === 0 ? word : `${word[0]?.toUpperCase() ?? ""}${word.slice(1)}`)).join("");
  return /^[0-9]/.test(joined) ? `fn${joined}` : joined;
}
