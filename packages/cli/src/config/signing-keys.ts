import { formatKeyFiles, keyVariables } from "@funker/client/internal";
import type { FunkerConfig, KeySecret } from "./funker-yml.js";

/**
 * The Docker secrets that hold a stack's keys (`secret:` of the stack and of
 * its functions), each once, with where funker.yml first names it: what
 * every function's and every service's container mounts.
 */
export function keySecrets(config: Pick<FunkerConfig, "secret" | "functions">): KeySecret[] {
  const found = new Map<string, KeySecret>();
  for (const secret of [config.secret, ...config.functions.map((spec) => spec.keySecret)]) {
    if (secret !== undefined && !found.has(secret.name)) found.set(secret.name, secret);
  }
  return [...found.values()];
}

/** Where a process finds a stack's key files: the stack's, and those of functions with a key of their own. */
export interface KeyFiles {
  readonly secretFile: string | undefined;
  readonly secretFiles: Readonly<Record<string, string>>;
}

/**
 * A stack's key files, each key secret's file at `pathOf(name)`, as the
 * client's `secretFile` and `secretFiles` read them. Every replica and every
 * service gets the same: a replica verifies with the key named for its own
 * function (else the stack's), and any process signs a call with the key of
 * the function it calls, so functions calling functions and apps calling
 * functions need no other setting.
 */
export function keyFiles(config: Pick<FunkerConfig, "secret" | "functions">, pathOf: (secretName: string) => string): KeyFiles {
  const secretFiles: Record<string, string> = {};
  for (const spec of config.functions) {
    if (spec.keySecret !== undefined && spec.keySecret.name !== config.secret?.name) secretFiles[spec.name] = pathOf(spec.keySecret.name);
  }
  return { secretFile: config.secret === undefined ? undefined : pathOf(config.secret.name), secretFiles };
}

/**
 * `keyFiles` as variables: `FUNKER_SECRET_FILE` and `FUNKER_SECRET_FILES`,
 * each when it has a value; empty when the stack has no key secret.
 */
export function keyEnvironment(config: Pick<FunkerConfig, "secret" | "functions">, pathOf: (secretName: string) => string): Record<string, string> {
  const files = keyFiles(config, pathOf);
  const environment: Record<string, string> = {};
  if (files.secretFile !== undefined) environment[keyVariables.file] = files.secretFile;
  if (Object.keys(files.secretFiles).length > 0) environment[keyVariables.files] = formatKeyFiles(files.secretFiles);
  return environment;
}
