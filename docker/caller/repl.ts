// The caller image's default command: a Node REPL with Funker's client ready,
// as the seed's funker/python image gave a Python shell with `funker.call`.
import repl from "node:repl";
import { call, createClient, FunkerError } from "@funker/client";

if (process.stdin.isTTY === true) {
  process.stdout.write(`Funker caller on Node ${process.version}. Try: await call("add", { x: 1, y: 2 })
Ready: call(name, args?, options?), createClient(options?), FunkerError.\n`);
}
const server = repl.start({ prompt: process.stdin.isTTY === true ? "funker> " : "" });
Object.assign(server.context, { call, createClient, FunkerError });
