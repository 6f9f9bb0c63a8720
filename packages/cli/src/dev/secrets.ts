import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { relativeTo } from "../bundle.js";
import { ConfigError } from "../config/funker-yml.js";
import type { ConfigIssue, FunkerConfig } from "../config/funker-yml.js";
import { isAlive } from "./state.js";

/**
 * Where `funker dev` reads secrets' values, beside funker.yml: the folder the
 * file `funker compose` writes reads them from (`./secrets/<name>`), so one
 * folder serves both.
 */
export const DEV_SECRETS_FOLDER = "secrets";

/** A run's folder is `funker-secrets-<pid>-<random>`: the pid tells the next run whether its runtime was killed. */
const RUN_FOLDER_PREFIX = "funker-secrets-";
const RUN_FOLDER_NAME = new RegExp(`^${RUN_FOLDER_PREFIX}(\\d+)-`);

/**
 * Every function's secrets for one `funker dev` run, copied from the
 * project's secrets folder into a private folder: mode 0700, a folder 0700
 * per function with only the secrets that function declares (as Docker
 * mounts only those), each file 0600. Functions get no other access to the
 * project's secrets folder, and the copy is removed when the run ends.
 */
export class DevSecrets {
  private constructor(
    private readonly runFolder: string | undefined,
    private readonly folders: ReadonlyMap<string, string>,
  ) {}

  /**
   * Checks that every declared secret has a local file in `sourceFolder`
   * and copies them; throws a `ConfigError` naming each missing one at its
   * line in funker.yml, before anything is copied. Never reads a value into
   * a message.
   */
  static create(config: FunkerConfig, sourceFolder: string): DevSecrets {
    const issues: ConfigIssue[] = [];
    for (const spec of config.functions) {
      for (const name of spec.secrets) {
        const problem = localFileProblem(join(sourceFolder, name));
        if (problem === undefined) continue;
        const position = spec.secretPositions[name] ?? { file: relativeTo(process.cwd(), config.file), line: 1, column: 1 };
        issues.push({ ...position, message: `functions.${spec.name}.secrets: the secret "${name}" has no local value for funker dev: ${problem}` });
      }
    }
    if (issues.length > 0) throw new ConfigError(issues);

    const declaring = config.functions.filter((spec) => spec.secrets.length > 0);
    if (declaring.length === 0) return new DevSecrets(undefined, new Map());
    removeFoldersOfEndedRuns();
    // mkdtemp creates the folder with mode 0700.
    const runFolder = mkdtempSync(join(tmpdir(), `${RUN_FOLDER_PREFIX}${process.pid}-`));
    const folders = new Map<string, string>();
    try {
      for (const spec of declaring) {
        const folder = join(runFolder, spec.name);
        mkdirSync(folder, { mode: 0o700 });
        for (const name of spec.secrets) writeFileSync(join(folder, name), readFileSync(join(sourceFolder, name)), { mode: 0o600, flag: "wx" });
        folders.set(spec.name, folder);
      }
    } catch (error) {
      rmSync(runFolder, { recursive: true, force: true });
      throw error;
    }
    return new DevSecrets(runFolder, folders);
  }

  /** The folder holding a function's secrets; undefined when it declares none. */
  folderOf(functionName: string): string | undefined {
    return this.folders.get(functionName);
  }

  /** Removes every copy; safe to call more than once. */
  remove(): void {
    if (this.runFolder !== undefined) rmSync(this.runFolder, { recursive: true, force: true });
  }
}

/** What to do about a secret's local file; undefined when it is a file. */
function localFileProblem(file: string): string | undefined {
  const shown = relativeTo(process.cwd(), file);
  try {
    if (statSync(file).isFile()) return undefined;
    return `${shown} is not a file; write the value to a file of that name (or give another folder with --secrets)`;
  } catch {
    return `write it to the file ${shown} (or give another folder with --secrets)`;
  }
}

/**
 * A run killed with SIGKILL cannot remove its copy; the next run does, for
 * every such folder of this user whose process is gone.
 */
function removeFoldersOfEndedRuns(): void {
  const folder = tmpdir();
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(RUN_FOLDER_NAME.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    const path = join(folder, name);
    try {
      if (statSync(path).uid === process.getuid?.()) rmSync(path, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}
