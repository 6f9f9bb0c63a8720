import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DOCKER_SECRETS_FOLDER, SECRET_NAME, SECRETS_FOLDER_VARIABLE } from "./contract.js";

/**
 * The file that holds a secret: `$FUNKER_SECRETS_DIR/<name>` when set (as
 * `funker dev` sets it), `/run/secrets/<name>` otherwise (Swarm and Compose).
 * For secrets read as bytes (keys, certificates) or by a library that wants
 * a path. Throws a TypeError for a name that could reach outside the folder.
 */
export function secretPath(name: string): string {
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    throw new TypeError(`${JSON.stringify(name)} is not a secret name (a letter or digit, then letters, digits, ".", "_", "-")`);
  }
  return join(process.env[SECRETS_FOLDER_VARIABLE] ?? DOCKER_SECRETS_FOLDER, name);
}

/**
 * A secret's text, read where the platform provides it (see `secretPath`),
 * with trailing line breaks removed: `echo … | docker secret create` adds
 * one, and a password never ends with one. Read it when needed rather than
 * at import, so that a function whose secret is missing still starts and
 * says which one in the error of the call that needs it. The error never
 * holds the secret's text.
 */
export function readSecret(name: string): string {
  const path = secretPath(name);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "there is no such file" : (error as Error).message;
    throw new Error(`the secret "${name}" cannot be read from ${path}: ${reason} (declare it under the function's secrets in funker.yml)`, {
      cause: error,
    });
  }
  return text.replace(/[\r\n]+$/, "");
}
