import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Where `funker dev` keeps its replicas' output, beside its state file, so
 * that `funker logs` in another terminal shows it: `.funker/dev.log`, and
 * the previous megabyte in `.funker/dev.log.1` once it has grown past
 * `DEV_LOG_MAX_BYTES`. Both are emptied when a runtime starts: they hold
 * one run's output, at most twice the limit.
 */
export function devLogPath(root: string): string {
  return join(root, ".funker", "dev.log");
}

/** Past this size the log is rotated; a chatty function cannot fill the disk. */
export const DEV_LOG_MAX_BYTES = 1024 * 1024;

/** The runtime's end: lines appended, the file rotated when full. */
export class DevLog {
  private fd: number | undefined;
  private bytes = 0;

  constructor(
    private readonly file: string,
    private readonly maxBytes = DEV_LOG_MAX_BYTES,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    rmSync(`${file}.1`, { force: true });
    this.fd = openSync(file, "w");
  }

  /** Appends one line (without its newline); written at once, so a reader sees it as soon as the terminal does. */
  write(line: string): void {
    if (this.fd === undefined) return;
    const data = Buffer.from(`${line}\n`);
    try {
      if (this.bytes > 0 && this.bytes + data.length > this.maxBytes) this.rotate();
      writeSync(this.fd as number, data);
      this.bytes += data.length;
    } catch {
      // A full disk or a removed folder ends the log, never the runtime: the terminal still shows every line.
      this.close();
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** The full file becomes `.1` (replacing the one before): a reader following it by inode finishes it there. */
  private rotate(): void {
    closeSync(this.fd as number);
    this.fd = undefined;
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, "w");
    this.bytes = 0;
  }
}

/**
 * Whether a log line belongs to one of `names`: its prefix is `<name>.<n>`
 * (a function's replica) or `<name>` (a service). Every line has its
 * prefix, stack lines too.
 */
export function lineMatches(line: string, names: readonly string[]): boolean {
  if (names.length === 0) return true;
  const bar = line.indexOf(" |");
  if (bar < 0) return false;
  const label = line.slice(0, bar).trimEnd();
  return names.some((name) => label === name || (label.startsWith(`${name}.`) && /^\d+$/.test(label.slice(name.length + 1))));
}

/** Reads a file from `offset` to its end; empty when it is gone. */
function readFrom(file: string, offset: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const chunks: Buffer[] = [];
    for (let position = offset; ; ) {
      const chunk = Buffer.alloc(64 * 1024);
      const read = readSync(fd, chunk, 0, chunk.length, position);
      if (read === 0) break;
      chunks.push(chunk.subarray(0, read));
      position += read;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

function inodeOf(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

export interface LogReaderOptions {
  readonly root: string;
  /** Only these functions' and services' lines; all when empty. */
  readonly names: readonly string[];
  /** Each whole matching line, without its newline. */
  readonly onLine: (line: string) => void;
}

/**
 * Reads the log as `funker logs` shows it: what it holds now (the rotated
 * part first), and, with `follow`, each line appended later, until
 * `keepFollowing` says no (the runtime has stopped) or `signal` aborts.
 * Polls the file's size: the runtime writes a line at a time, and a
 * tenth of a second is quick enough for a person.
 */
export async function readDevLog(options: LogReaderOptions & { follow?: { keepFollowing(): boolean; signal?: AbortSignal; pollMs?: number } }): Promise<void> {
  const file = devLogPath(options.root);
  let pending = "";
  const take = (data: Buffer): void => {
    const text = pending + data.toString("utf8");
    const end = text.lastIndexOf("\n");
    pending = text.slice(end + 1);
    if (end < 0) return;
    for (const line of text.slice(0, end).split("\n")) if (lineMatches(line, options.names)) options.onLine(line);
  };
  let inode = inodeOf(file);
  if (inodeOf(`${file}.1`) !== undefined) take(readFrom(`${file}.1`, 0));
  let offset = 0;
  const catchUp = (): void => {
    const current = inodeOf(file);
    if (current !== inode) {
      // Rotated: finish the old file, now `.1`, then start on the new one.
      if (inode !== undefined && inodeOf(`${file}.1`) === inode) take(readFrom(`${file}.1`, offset));
      inode = current;
      offset = 0;
    }
    const more = readFrom(file, offset);
    offset += more.length;
    take(more);
  };
  catchUp();
  const follow = options.follow;
  while (follow !== undefined && follow.signal?.aborted !== true) {
    await new Promise((resolve) => setTimeout(resolve, follow.pollMs ?? 100));
    // Asked before reading, so that the last lines of a runtime that stops meanwhile are still read.
    const going = follow.keepFollowing();
    catchUp();
    if (!going) break;
  }
  if (pending !== "" && lineMatches(pending, options.names)) options.onLine(pending);
}
