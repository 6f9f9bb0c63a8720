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

/**
 * The variables that give a process a stack's keys, each key secret's file
 * at `pathOf(name)`: the stack's as `FUNKER_SECRET_FILE`, and each function
 * with a key of its own as an entry of `FUNKER_SECRET_FILES`. Every replica
 * and every service gets the same: a replica verifies with the key named
 * for its own function (else the stack's), and any process signs a call
 * with the key of the function it calls, so functions calling functions and
 * apps calling functions need no other setting. Empty when the stack has no
 * key secret.
 */
export function keyEnvironment(config: Pick<FunkerConfig, "secret" | "functions">, pathOf: (secretName: string) => string): Record<string, string> {
  const environment: Record<string, string> = {};
  if (config.secret !== undefined) environment[keyVariables.file] = pathOf(config.secret.name);
  const own: Record<string, string> = {};
  for (const spec of config.functions) {
    if (spec.keySecret !== undefined && spec.keySecret.name !== config.secret?.name) own[spec.name] = pathOf(spec.keySecret.name);
  }
  if (Object.keys(own).length > 0) environment[keyVariables.files] = formatKeyFiles(own);
  return environment;
}
