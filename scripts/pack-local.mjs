// `pnpm pack:local <folder>`: builds Funker's published packages (every
// packages/* manifest not marked private) and writes their tarballs to
// <folder>, one per package, for `funker new <name> --packages <folder>` to
// install from. `pnpm pack` turns the workspace: ranges between them into
// plain versions, as publishing does.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repository = fileURLToPath(new URL("..", import.meta.url));

/** The published packages: their folder and name, from packages/*\/package.json. */
function publishedPackages() {
  const packagesFolder = join(repository, "packages");
  return readdirSync(packagesFolder)
    .filter((folder) => existsSync(join(packagesFolder, folder, "package.json")))
    .map((folder) => ({ folder: join(packagesFolder, folder), manifest: JSON.parse(readFileSync(join(packagesFolder, folder, "package.json"), "utf8")) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ folder, manifest }) => ({ folder, name: manifest.name, version: manifest.version }));
}

/** The pnpm running this script (a native binary or a script), else the one on PATH. */
function pnpmCommand() {
  const execPath = process.env.npm_execpath;
  if (execPath !== undefined && /^pnpm(?:\.c?js|\.mjs)?$/.test(basename(execPath))) {
    return /\.[cm]?js$/.test(execPath) ? [process.execPath, execPath] : [execPath];
  }
  return ["pnpm"];
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error !== undefined) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(`pack:local: ${[command, ...args].join(" ")} failed in ${relative(repository, cwd) || "."}\n`);
    process.exit(result.status ?? 1);
  }
}

function main(argv) {
  if (argv.length !== 1 || argv[0].startsWith("-")) {
    process.stderr.write("Usage: pnpm pack:local <folder>\n(writes the tarballs of Funker's published packages to <folder>)\n");
    process.exit(2);
  }
  // pnpm runs root scripts in the repository root; a relative folder is the caller's.
  const destination = resolve(process.env.INIT_CWD ?? process.cwd(), argv[0]);
  const packages = publishedPackages();
  const turbo = join(repository, "node_modules", ".bin", "turbo");
  run(turbo, ["run", "build", "--output-logs=errors-only", ...packages.map(({ name }) => `--filter=${name}`)], repository);

  mkdirSync(destination, { recursive: true });
  const [pnpm, ...pnpmArgs] = pnpmCommand();
  for (const { folder, name } of packages) {
    // One tarball per package in the folder: older versions of it would be ambiguous.
    const prefix = `${name.replace(/^@/, "").replace("/", "-")}-`;
    for (const file of readdirSync(destination)) {
      if (file.startsWith(prefix) && /^\d/.test(file.slice(prefix.length)) && file.endsWith(".tgz")) rmSync(join(destination, file));
    }
    run(pnpm, [...pnpmArgs, "pack", "--pack-destination", destination], folder);
  }
  process.stdout.write(`packed ${packages.map(({ name, version }) => `${name}@${version}`).join(", ")} into ${destination}\n`);
}

main(process.argv.slice(2));
