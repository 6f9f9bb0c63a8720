import { encodeHello } from "@funker/protocol";
import type { ResolvedOptions } from "./options.js";

/** A replica's HELLO is the same on every connection: encoded once per set of options. */
const hellos = new WeakMap<ResolvedOptions, Uint8Array>();

/** The HELLO a version 2 caller reads first (PROTOCOL.md section 5.5): it names the function this replica serves, when it was told, and says whether calls must be signed. */
export function helloFor(options: ResolvedOptions): Uint8Array {
  let hello = hellos.get(options);
  if (hello === undefined) {
    hello = encodeHello({ functionName: options.name, authRequired: options.keys !== undefined });
    hellos.set(options, hello);
  }
  return hello;
}
