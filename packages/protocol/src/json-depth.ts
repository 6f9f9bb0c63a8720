/*
 * How deeply a JSON text nests, read from the text before it is parsed:
 * both the decoder and the encoder (which refuses what a receiver would)
 * read it, so it imports nothing.
 */

/**
 * The deepest a JSON text may nest arrays and objects: 1,000 levels. V8's
 * JSON.parse does not recurse, but deep nesting costs it far more per byte
 * than flat data (200,000 levels, 400 KB, take it over a second), so that
 * 8 MiB of brackets would hold a replica's event loop for tens of seconds;
 * and JSON.stringify, which does recurse, cannot write back more than a few
 * thousand levels. 1,000 is what Jackson allows by default and about what
 * Python's recursion limit allows; honest data stays far below it.
 */
export const MAX_JSON_DEPTH = 1_000;

/**
 * True when `text` opens more than `limit` arrays or objects inside one
 * another. Strings are skipped whole (a bracket inside one is not
 * structure). A text shorter than `limit` characters cannot nest that deep
 * and is not read. The text need not be valid JSON: an invalid one is
 * refused by the parser anyway, and this only decides which error comes
 * first.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  if (text.length <= limit) return false;
  let depth = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) {
      index = closingQuote(text, index + 1);
    } else if (code === OPEN_ARRAY || code === OPEN_OBJECT) {
      depth += 1;
      if (depth > limit) return true;
    } else if (code === CLOSE_ARRAY || code === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** The index of the quote that ends the string whose contents start at `from` (the text's length if none does). */
function closingQuote(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote !== -1) {
    // A quote ends the string unless an odd number of backslashes escapes it.
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return text.length;
}
