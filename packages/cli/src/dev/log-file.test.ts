import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DevLog, devLogPath, lineMatches, readDevLog } from "./log-file.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function newRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "funker-log-"));
  roots.push(root);
  return root;
}

async function linesOf(root: string, names: readonly string[] = []): Promise<string[]> {
  const lines: string[] = [];
  await readDevLog({ root, names, onLine: (line) => lines.push(line) });
  return lines;
}

describe("funker dev's log file", () => {
  it("rotates past its limit, keeping one previous file, so it holds at most twice the limit; a reader reads both in order", async () => {
    const root = newRoot();
    const log = new DevLog(devLogPath(root), 100);
    const written = Array.from({ length: 30 }, (_, index) => `add.1  | line ${String(index).padStart(2, "0")}`);
    for (const line of written) log.write(line);
    log.close();

    const current = readFileSync(devLogPath(root), "utf8");
    const previous = readFileSync(`${devLogPath(root)}.1`, "utf8");
    expect(Buffer.byteLength(current)).toBeLessThanOrEqual(100);
    expect(Buffer.byteLength(previous)).toBeLessThanOrEqual(100);
    const kept = await linesOf(root);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept).toEqual(written.slice(written.length - kept.length));
  });

  it("is emptied when a runtime starts", async () => {
    const root = newRoot();
    const first = new DevLog(devLogPath(root), 50);
    for (let index = 0; index < 10; index += 1) first.write(`add.1  | old ${index}`);
    first.close();
    const second = new DevLog(devLogPath(root), 50);
    second.write("add.1  | new");
    second.close();
    expect(await linesOf(root)).toEqual(["add.1  | new"]);
  });

  it("is followed across a rotation without losing or repeating a line", async () => {
    const root = newRoot();
    const log = new DevLog(devLogPath(root), 200);
    log.write("add.1  | before");
    const seen: string[] = [];
    let writing = true;
    const following = readDevLog({ root, names: [], onLine: (line) => seen.push(line), follow: { keepFollowing: () => writing, pollMs: 5 } });
    const written = ["add.1  | before"];
    for (let index = 0; index < 40; index += 1) {
      const line = `add.1  | after ${index}`;
      log.write(line);
      written.push(line);
      // A few lines between polls: rotations happen while the reader waits.
      if (index % 3 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    writing = false;
    await following;
    log.close();
    expect(seen).toEqual(written);
  });

  it("matches a function's replicas and a service by the line's prefix", () => {
    expect(lineMatches("add.1    | x", ["add"])).toBe(true);
    expect(lineMatches("add.12   | x", ["add"])).toBe(true);
    expect(lineMatches("adder.1  | x", ["add"])).toBe(false);
    expect(lineMatches("db       | x", ["db"])).toBe(true);
    expect(lineMatches("db       | x", ["add", "db"])).toBe(true);
    expect(lineMatches("add.x    | x", ["add"])).toBe(false);
    expect(lineMatches("anything", [])).toBe(true);
  });
});
