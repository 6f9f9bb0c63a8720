/**
 * Glue between Funker's own packages (`@funker/testing` above all).
 *
 * Outside semver: anything here may change in any release. Apps use the
 * public `setDefaultClient` instead.
 * @packageDocumentation
 */
import { formatKeyFiles, KEY_VARIABLES, parseKeys, SharedKeyError } from "@funker/node-utils";
import { installedNetwork, setInstalledNetwork } from "./network.js";
import type { Network } from "./network.js";

export { formatKeyFiles };
export type { AttemptOutcome, AttemptRequest, AttemptTransport } from "./attempt.js";
export type { Address, NameAnswer, NameSource } from "./discovery.js";
export type { CallEnd, Network } from "./network.js";

/**
 * Puts `network` under every client (the default one and those from
 * `createClient`, in every copy of this package): names resolve through its
 * name source, ignoring endpoints, and attempts go to its transport. The
 * client's own checks, encoding, replica picking, back-off and retry run as
 * over the network. Returns a function that restores the previous network.
 *
 * Outside semver: for `@funker/testing`, which builds public fakes on it.
 */
export function installNetwork(network: Network): () => void {
  const previous = installedNetwork();
  setInstalledNetwork(network);
  return () => {
    setInstalledNetwork(previous);
  };
}

/**
 * The variables that give a process its shared keys (`FUNKER_SECRET_FILE`,
 * `FUNKER_SECRET`, `FUNKER_SECRET_FILES`), as the handler and the client
 * read them: for the CLI, which sets them on replicas and callers.
 */
export const keyVariables: { readonly file: string; readonly text: string; readonly files: string } = KEY_VARIABLES;

/**
 * Checks a key text as the handler and the client would read it, and
 * returns how many keys it holds; throws a `TypeError` whose message names
 * `origin` and the problem, never a key. For the CLI, which checks a key
 * file before it hands it to replicas.
 */
export function checkKeyText(text: string, origin: string): number {
  try {
    return parseKeys(text, origin).length;
  } catch (error) {
    if (error instanceof SharedKeyError) throw new TypeError(error.message, { cause: error });
    throw error;
  }
}

