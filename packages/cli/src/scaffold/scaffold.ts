import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { isMap, parseDocument } from "yaml";
import { CONFIG_FILE_NAME, findConfigFile, functionNameProblem } from "../config/funker-yml.js";
import type { FunctionMode } from "../config/funker-yml.js";
import { ExitCode } from "../exit-code.js";
import { UsageError } from "../usage-error.js";
import { packageVersion } from "../version.js";

export interface NewCommand {
  readonly name: string;
  /** Default `./<name>`. */
  readonly directory: string | undefined;
  /** Default: the nearest funker.yml, else `./funker.yml`. */
  readonly configFile: string | undefined;
  /** Default `single-shot`. */
  readonly mode?: FunctionMode | undefined;
}

/** The validator of a new function's arguments: valibot, whose bundle holds only the functions used. */
const VALIBOT_VERSION = "^1.5.0";

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
export function scaffoldFiles(name: string, dependencyVersion: string, mode: FunctionMode = "single-shot"): Record<string, string> {
  const identifier = camelCase(name);
  const typeName = `${identifier[0]?.toUpperCase() ?? ""}${identifier.slice(1)}Args`;
  return {
    "package.json": `${JSON.stringify(
      {
        name,
        version: "0.1.0",
        private: true,
        type: "module",
        scripts: {
          test: "vitest run",
          typecheck: "tsc -p tsconfig.json",
          bundle: "esbuild src/handler.ts --bundle --platform=node --format=esm --target=node20 --outfile=dist/handler.mjs",
        },
        dependencies: { "@funker/handler": dependencyVersion, valibot: VALIBOT_VERSION },
        devDependencies: {
          "@funker/testing": dependencyVersion,
          "@types/node": "^20.19.0",
          esbuild: "^0.27.0",
          typescript: "~5.9.0",
          vitest: "^4.0.0",
        },
      },
      null,
      2,
    )}\n`,
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
    [`src/${name}.test.ts`]: `import { startFunction } from "@funker/testing";
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
      await expect(running.call({ name: 42 } as never)).rejects.toMatchObject({ code: "bad_arguments", message: expect.stringMatching(/ at name$/) });
    } finally {
      await running.close();
    }
  });
});
`,
    Dockerfile: `# A Funker function image: the function bundled into one file, on Node's
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
`,
    ".dockerignore": "node_modules\ndist\n",
    "README.md": `# ${name}

A Funker function. \`src/${name}.ts\` is the function, \`src/handler.ts\` serves
it on port 9999, \`src/${name}.test.ts\` tests it.

\`\`\`sh
npm test                      # or: pnpm test
funker dev                    # runs it locally with every function of funker.yml
funker call ${name} name=Ada     # "Hello, Ada!"
funker call ${name} name=42      # error bad_arguments: … at name (src/${name}.ts's schema)
docker build -t ${name} .
\`\`\`
`,
  };
}

/** `funker new <name>`: writes the files and adds the function to funker.yml. */
export function runNew(command: NewCommand): number {
  const problem = functionNameProblem(command.name);
  if (problem !== undefined) throw new UsageError(problem);
  const directory = resolve(command.directory ?? command.name);
  if (existsSync(join(directory, "package.json")) || existsSync(join(directory, "src", "handler.ts"))) {
    throw new UsageError(`${directory} already holds a package; choose another --dir`);
  }
  const configFile = command.configFile !== undefined ? resolve(command.configFile) : (findConfigFile(process.cwd()) ?? resolve(CONFIG_FILE_NAME));

  const mode = command.mode ?? "single-shot";
  const files = scaffoldFiles(command.name, dependencyVersionFor(directory), mode);
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
      `next: install its dependencies, then run its test and \`funker dev\`\n`,
  );
  return ExitCode.ok;
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
  writeFileSync(configFile, document.toString());
}

/**
 * Inside the Funker repository the function depends on the workspace's own
 * packages; elsewhere on the released version matching this CLI.
 */
function dependencyVersionFor(directory: string): string {
  let folder = directory;
  for (;;) {
    const handlerManifest = join(folder, "packages", "handler", "package.json");
    if (existsSync(join(folder, "pnpm-workspace.yaml")) && existsSync(handlerManifest)) {
      const manifest = JSON.parse(readFileSync(handlerManifest, "utf8")) as { name?: string };
      if (manifest.name === "@funker/handler") return "workspace:^";
    }
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  return `^${packageVersion()}`;
}

function camelCase(name: string): string {
  const words = name.split("-").filter((word) => word !== "");
  const joined = words.map((word, index) => (index === 0 ? word : `${word[0]?.toUpperCase() ?? ""}${word.slice(1)}`)).join("");
  return /^[0-9]/.test(joined) ? `fn${joined}` : joined;
}
