import type { Writable } from "node:stream";

/** Anything lines of text can be written to: a stream, or a collector in tests. */
export interface TextSink {
  write(text: string): unknown;
}

/** Colours used for replica prefixes, in the order Compose cycles through them. */
const PREFIX_COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];

/**
 * Whether to colour output written to `stream`: only on a terminal, and never
 * when NO_COLOR is set (https://no-color.org) or FORCE_COLOR asks otherwise.
 */
export function useColour(stream: Writable & { isTTY?: boolean }): boolean {
  const force = process.env["FORCE_COLOR"];
  if (force !== undefined && force !== "") return force !== "0";
  if (process.env["NO_COLOR"] !== undefined && process.env["NO_COLOR"] !== "") return false;
  return stream.isTTY === true;
}

/** Paints text for people; a no-op when colour is off. */
export interface Painter {
  readonly enabled: boolean;
  code(code: number, text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
  /** The colour of the nth service, as Compose gives each service its own. */
  nth(index: number, text: string): string;
}

export function painter(enabled: boolean): Painter {
  const code = (value: number, text: string): string => (enabled ? `\u001b[${value}m${text}\u001b[0m` : text);
  return {
    enabled,
    code,
    red: (text) => code(31, text),
    yellow: (text) => code(33, text),
    green: (text) => code(32, text),
    dim: (text) => code(2, text),
    bold: (text) => code(1, text),
    nth: (index, text) => code(PREFIX_COLOURS[index % PREFIX_COLOURS.length] ?? 36, text),
  };
}

/**
 * Splits a byte stream into lines and hands each whole line on; the rest of
 * a line waits for its newline, so prefixed output never interleaves inside a line.
 */
export class LineSplitter {
  private pending = "";

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.pending + chunk.toString();
    const lines = text.split("\n");
    this.pending = lines.pop() ?? "";
    for (const line of lines) this.onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  }

  /** Hands on a last line that had no newline. */
  flush(): void {
    if (this.pending !== "") this.onLine(this.pending);
    this.pending = "";
  }
}

/** Prints rows under headers on standard output, in columns as wide as their widest cell. */
export function printTable(headers: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const format = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${[format(headers), ...rows.map(format)].join("\n")}\n`);
}
