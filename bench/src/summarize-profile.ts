/**
 * Summarises a `.cpuprofile` (from `node --cpu-prof`): self time per
 * function, grouped as Funker's code, Node's internals, or the rest, so a
 * missed goal can be split into what is ours and what is Node's floor.
 * From the command line: `node bench/dist/profile-summary.js <file.cpuprofile> [top]`.
 */
import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function owner(url: string): string {
  if (url.includes("/packages/handler/") || url.includes("@funker/handler")) return "handler";
  if (url.includes("/packages/client/") || url.includes("@funker/client")) return "client";
  if (url.includes("/packages/protocol/") || url.includes("@funker/protocol")) return "protocol";
  if (url.startsWith("node:")) return "node";
  if (url === "") return "native";
  if (url.includes("/bench/")) return "bench";
  return "other";
}

export async function summarizeProfile(path: string, top = 25): Promise<string> {
  const profile = JSON.parse(await readFile(path, "utf8")) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<number, number>();
  profile.samples.forEach((id, index) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const byFunction = new Map<string, { micros: number; owner: string }>();
  const byOwner = new Map<string, number>();
  let total = 0;
  for (const [id, micros] of selfMicros) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    // Waiting for the next event is not work: shares are of busy time.
    if (functionName === "(idle)") continue;
    const file = url.replace(/^.*\/(packages|node_modules)\//, "");
    const key = `${functionName || "(anonymous)"} ${file}${url === "" ? "" : `:${lineNumber + 1}`}`;
    const who = owner(url);
    const entry = byFunction.get(key) ?? { micros: 0, owner: who };
    entry.micros += micros;
    byFunction.set(key, entry);
    byOwner.set(who, (byOwner.get(who) ?? 0) + micros);
    total += micros;
  }
  const percent = (micros: number): string => `${((micros / total) * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy (sampled, idle excluded) ${(total / 1000).toFixed(0)} ms; self time by owner: ${[...byOwner].sort((a, b) => b[1] - a[1]).map(([who, micros]) => `${who} ${percent(micros).trim()}`).join(", ")}`];
  for (const [key, entry] of [...byFunction].sort((a, b) => b[1].micros - a[1].micros).slice(0, top)) {
    lines.push(`${percent(entry.micros)}  ${(entry.micros / 1000).toFixed(1).padStart(8)} ms  [${entry.owner}] ${key}`);
  }
  return lines.join("\n");
}
