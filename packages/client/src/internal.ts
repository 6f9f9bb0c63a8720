/**
 * Glue between Funker's own packages (`@funker/testing` above all).
 *
 * Outside semver: anything here may change in any release. Apps use the
 * public `setDefaultClient` instead.
 * @packageDocumentation
 */
import { installedNetwork, setInstalledNetwork } from "./network.js";
import type { Network } from "./network.js";

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
