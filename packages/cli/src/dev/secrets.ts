import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unwatchFile, watchFile, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkKeyText, keyVariables } from "@funker/client/internal";
import { relativeTo } from "../bundle.js";
import { ConfigError } from "../config/funker-yml.js";
import type { ConfigIssue, FunkerConfig } from "../config/funker-yml.js";
import { keyEnvironment, keySecrets } from "../config/signing-keys.js";
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
/** The run folder's folder of key files: "_" cannot start a function's name, so no function's folder takes it. */
const KEYS_FOLDER = "_keys";
/**
 * How often a key's local file is looked at: a rotation written there
 * reaches the copy within this, and the replicas (which look at the copy
 * once a second) within a second more.
 */
const KEY_WATCH_INTERVAL_MS = 250;

/** What happened to a key's local file after the start, for the runtime's output; never holds a key. */
export type KeyChange = { readonly secret: string; readonly ok: true; readonly keys: number } | { readonly secret: string; readonly ok: false; readonly message: string };

/**
 * Every function's secrets for one `funker dev` run, copied from the
 * project's secrets folder into a private folder: mode 0700, a folder 0700
 * per function with only the secrets that function declares (as Docker
 * mounts only those), each file 0600. Functions get no other access to the
 * project's secrets folder, and the copy is removed when the run ends.
 * The key secrets of `secret:` are copied alike, into one folder every
 * replica, service and the command after `--` reads (they all hold the
 * keys on Docker too), and copied again whenever their local file changes,
 * so that a rotation reaches running replicas without a restart.
 */
export class DevSecrets {
  private readonly watched: string[] = [];

  private constructor(
    private readonly config: FunkerConfig,
    private readonly sourceFolder: string,
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
    for (const secret of keySecrets(config)) {
      const file = join(sourceFolder, secret.name);
      const problem = localFileProblem(file) ?? keyTextProblem(file);
      if (problem !== undefined) issues.push({ ...secret.position, message: `secret: the keys "${secret.name}" have no local value for funker dev: ${problem}` });
    }
    if (issues.length > 0) throw new ConfigError(issues);

    const declaring = config.functions.filter((spec) => spec.secrets.length > 0);
    const keys = keySecrets(config);
    if (declaring.length === 0 && keys.length === 0) return new DevSecrets(config, sourceFolder, undefined, new Map());
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
      if (keys.length > 0) {
        mkdirSync(join(runFolder, KEYS_FOLDER), { mode: 0o700 });
        for (const secret of keys) writeFileSync(join(runFolder, KEYS_FOLDER, secret.name), readFileSync(join(sourceFolder, secret.name)), { mode: 0o600, flag: "wx" });
      }
    } catch (error) {
      rmSync(runFolder, { recursive: true, force: true });
      throw error;
    }
    return new DevSecrets(config, sourceFolder, runFolder, folders);
  }

  /**
   * The variables that give a process the stack's keys (the copies'
   * paths), as `funker deploy` gives them with /run/secrets; every key
   * variable, so that one inherited from the terminal is replaced, or
   * removed when funker.yml names no key.
   */
  keyEnvironment(): Record<string, string | undefined> {
    const keysFolder = this.runFolder === undefined ? undefined : join(this.runFolder, KEYS_FOLDER);
    const environment: Record<string, string | undefined> = { [keyVariables.file]: undefined, [keyVariables.text]: undefined, [keyVariables.files]: undefined };
    if (keysFolder === undefined) return environment;
    return { ...environment, ...keyEnvironment(this.config, (name) => join(keysFolder, name)) };
  }

  /**
   * Copies each key secret again when its local file changes, and tells
   * `report`. A file that does not hold valid keys at that moment (an
   * editor's half-written save) is not copied: the replicas keep the keys
   * they have, and a replica starting meanwhile still finds valid ones.
   * The copy is replaced by a rename, so a replica never reads half a file.
   */
  watchKeys(report: (change: KeyChange) => void): void {
    if (this.runFolder === undefined) return;
    const keysFolder = join(this.runFolder, KEYS_FOLDER);
    for (const secret of keySecrets(this.config)) {
      const source = join(this.sourceFolder, secret.name);
      this.watched.push(source);
      watchFile(source, { interval: KEY_WATCH_INTERVAL_MS, persistent: false }, (current, previous) => {
        if (current.mtimeMs === previous.mtimeMs && current.size === previous.size && current.ino === previous.ino) return;
        try {
          const text = readFileSync(source);
          const keys = checkKeyText(text.toString("utf8"), relativeTo(process.cwd(), source));
          const copy = join(keysFolder, secret.name);
          const next = `${copy}.next`;
          writeFileSync(next, text, { mode: 0o600 });
          renameSync(next, copy);
          report({ secret: secret.name, ok: true, keys });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          const message = code === "ENOENT" ? `${relativeTo(process.cwd(), source)} is gone` : (error as Error).message;
          report({ secret: secret.name, ok: false, message });
        }
      });
    }
  }

  /** The folder holding a function's secrets; undefined when it declares none. */
  folderOf(functionName: string): string | undefined {
    return this.folders.get(functionName);
  }

  /** Stops watching and removes every copy; safe to call more than once. */
  remove(): void {
    for (const source of this.watched.splice(0)) unwatchFile(source);
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

/** What is wrong with the keys in a file, as the handler would refuse them; undefined when they serve. Never holds a key. */
function keyTextProblem(file: string): string | undefined {
  try {
    checkKeyText(readFileSync(file, "utf8"), relativeTo(process.cwd(), file));
    return undefined;
  } catch (error) {
    return (error as Error).message;
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
