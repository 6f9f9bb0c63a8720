/** The arguments of `slugify`. */
export interface SlugifyArgs {
  /** The text to turn into a slug, e.g. a post's title. */
  text: string;
  /** Between words; default "-". */
  separator?: string;
  /** The longest slug returned, cut at a word boundary when possible; default 80. */
  maxLength?: number;
}

const DEFAULT_MAX_LENGTH = 80;

/**
 * Turns a title into a URL slug: "Crème brûlée, 2 ways!" → "creme-brulee-2-ways".
 * Accents are dropped (NFKD, then combining marks removed), anything that is
 * not a letter or digit separates words.
 */
export function slugify({ text, separator = "-", maxLength = DEFAULT_MAX_LENGTH }: SlugifyArgs): string {
  if (typeof text !== "string") throw new TypeError("text must be a string");
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new RangeError("maxLength must be a whole number of 1 or more");
  const words = text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word !== "");
  let slug = "";
  for (const word of words) {
    const next = slug === "" ? word : `${slug}${separator}${word}`;
    if (next.length > maxLength) return slug === "" ? word.slice(0, maxLength) : slug;
    slug = next;
  }
  return slug;
}
