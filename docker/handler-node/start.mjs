// Starts the function in /function: the file its package.json's start
// script runs (`node <file>`, as the 2017 walkthrough's package.json says),
// else handler.js. Loaded in this process, so that a replica is one Node
// start, as the single-shot mode needs, and Node stays PID 1 for signals.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const folder = "/function";
let entry = "handler.js";
let manifest;
try {
  manifest = JSON.parse(readFileSync(`${folder}/package.json`, "utf8"));
} catch (error) {
  if (error.code !== "ENOENT") throw error;
}
const start = typeof manifest?.scripts?.start === "string" ? manifest.scripts.start.trim() : undefined;
if (start !== undefined) {
  const match = /^node\s+(\S+)$/.exec(start);
  if (match === null) {
    process.stderr.write(`funker/handler-node starts a function as "node <file>"; package.json's start script is "${start}"\n`);
    process.exit(1);
  }
  entry = match[1];
}
await import(pathToFileURL(resolve(folder, entry)).href);
