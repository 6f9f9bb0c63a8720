// The test function of the multi-node stage: a non-idempotent call that
// leaves a trace. Each call appends its id to a file of its own replica on
// /ledger (a folder every node mounts), before the reply is sent: a call that
// ran is in a ledger file, whatever happened to its reply afterwards. The
// tests reconcile these files with what each caller was told.
import { appendFileSync } from "node:fs";
import { hostname } from "node:os";
import { handler } from "@funker/handler";

/** The Swarm node this replica runs on: the service sets it from `{{.Node.Hostname}}`. */
const node = process.env["CLUSTER_NODE"] ?? "unknown";
/** A container's hostname is its id: one file per replica, so appends never interleave across processes. */
const replica = hostname();
const ledger = `/ledger/${replica}.log`;

handler((args: { id: string }) => {
  if (typeof args?.id !== "string" || args.id.length === 0 || args.id.length > 200 || args.id.includes("\n")) {
    throw new Error("id must be a one-line string of 1 to 200 characters");
  }
  appendFileSync(ledger, `${args.id}\n`);
  return { id: args.id, node, replica };
});
