import { SETTINGS } from "@funker/handler/contract";
import type { FunctionMode } from "../config/funker-yml.js";
import { runNew, SCAFFOLD_LANGUAGES } from "../scaffold/scaffold.js";
import type { ScaffoldLanguage } from "../scaffold/scaffold.js";
import { defineCommand, UsageError } from "./command.js";

/** `funker new`: scaffolds a function (src/scaffold/) and adds it to funker.yml. */
export const newFunction = defineCommand({
  name: "new",
  synopsis: "new <name>",
  summary: "scaffold a function (TypeScript or JavaScript) and add it to funker.yml",
  help: `Usage: funker new <name> [options]

Scaffolds a function: src/<name>.ts (the plain function), src/handler.ts
(serves it), src/<name>.test.ts (tests it directly and over the protocol),
package.json, tsconfig.json, vitest.config.ts, Dockerfile and README.md
(with --lang js: the same in JavaScript, without tsconfig.json), and adds it
to funker.yml (created when there is none).

Options:
  -d, --dir <path>         where to create it (default: ./<name>)
  -m, --mode <mode>        single-shot (default), reuse or fresh: how its replicas serve calls
  -l, --lang <lang>        ts (default) or js
  -p, --packages <folder>  install Funker's packages from the tarballs \`pnpm pack:local\`
                           wrote there (default: from the registry)
  -f, --file <path>        the funker.yml to add it to (default: the nearest one
                           above its folder, else one beside its folder)
  -h, --help               this help`,
  options: {
    dir: { type: "string", short: "d" },
    mode: { type: "string", short: "m" },
    lang: { type: "string", short: "l" },
    packages: { type: "string", short: "p" },
  },
  run({ values, positionals }) {
    const [name, extra] = positionals;
    if (name === undefined) throw new UsageError("which name? funker new <name>");
    if (extra !== undefined) throw new UsageError(`unexpected "${extra}"`);
    const modes: readonly string[] = SETTINGS.mode.choices;
    if (values.mode !== undefined && !modes.includes(values.mode)) throw new UsageError(`--mode must be ${modes.join(", ")}; got "${values.mode}"`);
    const languages: readonly string[] = SCAFFOLD_LANGUAGES;
    if (values.lang !== undefined && !languages.includes(values.lang)) throw new UsageError(`--lang must be ${languages.join(" or ")}; got "${values.lang}"`);
    return runNew({
      name,
      directory: values.dir,
      configFile: values.file,
      mode: values.mode as FunctionMode | undefined,
      language: values.lang as ScaffoldLanguage | undefined,
      packagesFolder: values.packages,
    });
  },
});
