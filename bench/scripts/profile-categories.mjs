/**
 * Self time of a `node --cpu-prof` profile by what the work is for (the
 * write system call, GC, Node's socket and stream code, promises and ticks,
 * timers, framing, JSON, the client's or the handler's call path, start-up),
 * as shares of the busy time after start-up. With a CPU figure per call
 * (µs, measured in the same run), each share is also given in µs per call.
 *
 *   node bench/scripts/profile-categories.mjs <file.cpuprofile> [cpu µs per call]
 */
import { readFileSync } from "node:fs";

const [path, perCallText] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(path, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
for (let index = 0; index < profile.samples.length; index += 1) {
  const id = profile.samples[index];
  self.set(id, (self.get(id) ?? 0) + (deltas[index] ?? 0));
}
const encodeNames = new Set(["callFrameV2", "replyFrameV2", "writeShortString", "writeMediumString", "writeText", "writeDouble", "writeUint32", "reserveBytes", "commitBytes", "encodeUtf8", "writeUtf8", "encodeResultBody", "encodeResult", "writeCallFrame", "encodeCallBody", "encodeFunctionResult", "encodeInto"]);
const jsonNames = new Set(["stringifyFaithfully", "isPlainJson", "stringifyJson", "encodeJson", "parseJson", "decodeJson", "decodeUtf8", "mayHavePrototypeKeys", "parse", "stringify", "decode", "decodeUTF8", "includes"]);
const decodeNames = new Set(["drain", "push", "skip", "take", "peek", "byteAt", "uint32At", "get length", "ownRemainder", "decodeFrameV2", "decodeCallV2", "text", "uint8", "uint16", "uint32", "double", "raw", "rest", "need", "get headerBytes", "readUint32", "PayloadReader", "checkId", "checkFunctionName", "checkDeadline", "checkHeartbeatInterval", "get bufferedBytes", "get version"]);
const startupUrl = /node:internal\/(modules|bootstrap|process\/pre_execution|main|url|source_map|options|fs|util\/inspect)|node:(path|fs|url|module)\b/;
function category(frame) {
  const { functionName: name, url } = frame;
  if (name === "writeBuffer" || name === "writev" || name === "writevGeneric" || name === "writeUtf8String" || name === "writeLatin1String") return "write system call";
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)") return "(program)";
  if (name === "(idle)") return "(idle)";
  if (startupUrl.test(url) || name === "compileForInternalLoader" || name === "openFileHandle" || name === "readFileHandle" || name === "compileSourceTextModule") return "start-up";
  if (url.includes("bench/dist/caller") || url.includes("bench/dist/servers") || url.includes("ab-builds")) return "bench's loop / raw server";
  if (name === "runMicrotasks" || /node:internal\/process\/(task_queues|promises)/.test(url)) return "promises, ticks";
  if (/node:internal\/timers|node:timers/.test(url)) return "timers";
  if (/node:(net|events|buffer|stream)|node:internal\/(streams|stream_base_commons|buffer|net|async_hooks|child_process)/.test(url)) return "Node sockets, streams, Buffers";
  if (encodeNames.has(name)) return "framing: encode";
  if (decodeNames.has(name)) return "framing: decode";
  if (jsonNames.has(name)) return "JSON (args, result)";
  if (url.includes("client/dist")) return "client call path";
  if (url.includes("image/add") || url.includes("handler/dist")) return "handler call path";
  if (url.includes("protocol/dist")) return "protocol, other";
  if (url === "") return `native: ${name}`;
  return "other";
}
const totals = new Map();
const functions = new Map();
for (const [id, time] of self) {
  const node = byId.get(id);
  const key = category(node.callFrame);
  totals.set(key, (totals.get(key) ?? 0) + time);
  const label = `${key} | ${node.callFrame.functionName || "(anonymous)"}`;
  functions.set(label, (functions.get(label) ?? 0) + time);
}
const excluded = new Set(["(idle)", "start-up"]);
let busy = 0;
for (const [key, time] of totals) if (!excluded.has(key)) busy += time;
const perCall = perCallText === undefined ? undefined : Number(perCallText);
console.log(`${path}\nbusy after start-up ${(busy / 1000).toFixed(0)} ms (start-up ${((totals.get("start-up") ?? 0) / 1000).toFixed(0)} ms left out)`);
for (const [key, time] of [...totals].filter(([key]) => !excluded.has(key)).sort((a, b) => b[1] - a[1])) {
  const share = time / busy;
  console.log(`  ${(share * 100).toFixed(1).padStart(5)}%${perCall === undefined ? "" : `  ${(share * perCall).toFixed(1).padStart(5)} µs/call`}  ${key}`);
}
console.log("  top functions:");
for (const [label, time] of [...functions].filter(([label]) => !excluded.has(label.split(" | ")[0])).sort((a, b) => b[1] - a[1]).slice(0, 14)) {
  console.log(`    ${((time / busy) * 100).toFixed(1).padStart(5)}%  ${label}`);
}
