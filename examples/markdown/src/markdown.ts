import { FunkerError } from "@funker/protocol";
import { Marked } from "marked";
import type { Tokens } from "marked";

/** The arguments of `renderMarkdown`. */
export interface RenderMarkdownArgs {
  /** The Markdown source (CommonMark with GitHub's extensions: tables, strikethrough, autolinks). */
  markdown: string;
  /** Turn single line breaks into `<br>`, as comments on GitHub do; default false. */
  breaks?: boolean;
}

/**
 * The largest Markdown accepted, in UTF-8 bytes. Rendering is linear in
 * practice, but a function that serves strangers needs a bound it can state:
 * 256 KiB is a long book chapter and renders in well under a second.
 */
export const MAX_MARKDOWN_BYTES = 256 * 1024;

/** Schemes a link or image may name: they cannot run script. Addresses without a scheme (relative, #anchors) are allowed too. */
const SAFE_SCHEMES = new Set(["http", "https", "mailto"]);

/**
 * Renders Markdown to HTML that is safe to put into a page as it is.
 *
 * The sanitising decision: Markdown may contain raw HTML, and marked passes
 * it through. Rather than run a full HTML sanitiser (DOMPurify needs a DOM,
 * jsdom, several megabytes), this renderer never emits HTML it did not
 * write: raw HTML in the input is escaped and shows as text, and link and
 * image targets with a scheme other than http, https or mailto (javascript:,
 * data:, vbscript:…) are dropped, leaving the link's text. Everything else
 * marked writes is escaped by marked itself. Users who need raw HTML should
 * sanitise the output themselves.
 */
export function renderMarkdown({ markdown, breaks = false }: RenderMarkdownArgs): string {
  if (typeof markdown !== "string") throw new FunkerError("bad_arguments", "markdown must be a string");
  if (typeof breaks !== "boolean") throw new FunkerError("bad_arguments", "breaks must be true or false");
  const bytes = Buffer.byteLength(markdown, "utf8");
  if (bytes > MAX_MARKDOWN_BYTES) {
    throw new FunkerError("payload_too_large", `markdown is ${bytes} bytes; the limit is ${MAX_MARKDOWN_BYTES}`, {
      data: { bytes, limitBytes: MAX_MARKDOWN_BYTES },
      mayHaveRun: false,
    });
  }
  return (breaks ? withBreaks : withoutBreaks).parse(markdown, { async: false });
}

function createRenderer(breaks: boolean): Marked {
  return new Marked({
    gfm: true,
    breaks,
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag): string {
        return escapeHtml(text);
      },
      link(token: Tokens.Link): string | false {
        if (isSafeTarget(token.href)) return false;
        return this.parser.parseInline(token.tokens);
      },
      image(token: Tokens.Image): string | false {
        if (isSafeTarget(token.href)) return false;
        return escapeHtml(token.text);
      },
    },
  });
}

// One instance per option set: a Marked is configured once and reused, never per call.
const withoutBreaks = createRenderer(false);
const withBreaks = createRenderer(true);

/**
 * Whether a link or image target is safe to write into an `href` or `src`.
 * marked writes targets with their character references undecoded
 * (`javascript&#58;…`), and browsers decode those and ignore control
 * characters and spaces inside a scheme (`java\tscript:`). So a target is
 * safe only when, with those characters removed, it starts with an allowed
 * scheme, or when the part before its first `/`, `?` or `#` holds neither
 * `:` nor `&` (a relative address or an anchor, which cannot name a scheme).
 */
function isSafeTarget(href: string): boolean {
  // eslint-disable-next-line no-control-regex
  const compact = href.replace(/[\u0000-\u0020\u007f-\u009f]/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(compact)?.[1];
  if (scheme !== undefined) return SAFE_SCHEMES.has(scheme);
  const beforePath = compact.split(/[/?#]/, 1)[0] ?? "";
  return !beforePath.includes(":") && !beforePath.includes("&");
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
