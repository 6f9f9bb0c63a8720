// Installs the dependencies of /function/package.json, except those the
// image provides: `funker` (the 2017 library's name) and `@funker/*`. A
// function with no other dependency (the 2017 walkthrough's) needs no
// registry to build.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let manifest;
try {
  manifest = JSON.parse(readFileSync("/function/package.json", "utf8"));
} catch (error) {
  if (error.code === "ENOENT") process.exit(0);
  throw error;
}
const provided = (name) => name === "funker" || name.startsWith("@funker/");
const wanted = Object.fromEntries(Object.entries(manifest.dependencies ?? {}).filter(([name]) => !provided(name)));
if (Object.keys(wanted).length === 0) {
  process.stdout.write("funker/handler-node: no dependencies to install (funker and @funker/* come with the image)\n");
  process.exit(0);
}
// npm would install everything the function's package.json lists, `funker`
// included; a package.json of the other dependencies alone is installed
// beside it, and its node_modules moved in.
const work = mkdtempSync(join(tmpdir(), "funker-dependencies-"));
writeFileSync(join(work, "package.json"), JSON.stringify({ private: true, dependencies: wanted }));
const result = spawnSync("npm", ["install", "--omit=dev", "--no-package-lock", "--no-audit", "--no-fund"], { cwd: work, stdio: "inherit" });
if (result.status !== 0) process.exit(result.status ?? 1);
renameSync(join(work, "node_modules"), "/function/node_modules");
