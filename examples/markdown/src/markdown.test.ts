import { startFunction } from "@funker/testing";
import { describe, expect, it } from "vitest";
import { MAX_MARKDOWN_BYTES, renderMarkdown } from "./markdown.js";

describe("renderMarkdown", () => {
  it("renders CommonMark with GitHub's tables and strikethrough", () => {
    const html = renderMarkdown({ markdown: "# Title\n\n*a* **b**\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n~~gone~~" });
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<em>a</em> <strong>b</strong>");
    expect(html).toContain("<td>1</td>");
    expect(html).toContain("<del>gone</del>");
  });

  it("turns single line breaks into <br> only when asked", () => {
    expect(renderMarkdown({ markdown: "a\nb" })).toBe("<p>a\nb</p>\n");
    expect(renderMarkdown({ markdown: "a\nb", breaks: true })).toBe("<p>a<br>b</p>\n");
  });

  it("escapes raw HTML, inline and in blocks, instead of passing it through", () => {
    const html = renderMarkdown({ markdown: 'x <img src=x onerror="alert(1)"> <script>alert(1)</script>\n\n<div onclick="x()">\nhi\n</div>\n' });
    expect(html).not.toMatch(/<(img|script|div)/);
    expect(html).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
    expect(html).toContain("&#60;div onclick=&#34;x()&#34;&#62;");
  });

  it("keeps http, https, mailto, relative and anchor links", () => {
    const html = renderMarkdown({ markdown: '[a](https://example.com "t") [b](mailto:x@example.com) [c](../docs?q=1&r=2) [d](#top) ![e](/logo.png)' });
    expect(html).toContain('<a href="https://example.com" title="t">a</a>');
    expect(html).toContain('<a href="mailto:x@example.com">b</a>');
    expect(html).toContain('<a href="../docs?q=1&amp;r=2">c</a>');
    expect(html).toContain('<a href="#top">d</a>');
    expect(html).toContain('<img src="/logo.png" alt="e">');
  });

  it("drops script-running targets, also disguised by case, control characters or character references", () => {
    const markdown = "[a](javascript:alert(1)) [b](JaVa&#09;script&#58;alert(1)) [c](java&Tab;script:x) [d](vbscript:x) ![e](data:text/html;base64,AA)";
    const html = renderMarkdown({ markdown });
    expect(html).not.toContain("href");
    expect(html).not.toContain("src");
    expect(html).toBe("<p>a b c d e</p>\n");
  });

  it("refuses Markdown above the size limit as payload_too_large, before rendering", () => {
    const markdown = "é".repeat(MAX_MARKDOWN_BYTES / 2 + 1);
    expect(() => renderMarkdown({ markdown })).toThrow(expect.objectContaining({ code: "payload_too_large", mayHaveRun: false }));
    expect(renderMarkdown({ markdown: "a".repeat(MAX_MARKDOWN_BYTES) })).toHaveLength(MAX_MARKDOWN_BYTES + "<p></p>\n".length);
  });

  it("refuses arguments of the wrong type as bad_arguments", () => {
    expect(() => renderMarkdown({ markdown: 42 } as never)).toThrow(expect.objectContaining({ code: "bad_arguments" }));
    expect(() => renderMarkdown({ markdown: "", breaks: "yes" } as never)).toThrow(expect.objectContaining({ code: "bad_arguments" }));
  });

  it("answers a call over Funker's protocol, and reports the limit to the caller with its code", async () => {
    await using running = await startFunction(renderMarkdown, { name: "markdown" });
    expect(await running.call({ markdown: "**hi**" })).toBe("<p><strong>hi</strong></p>\n");
    await using again = await startFunction(renderMarkdown, { name: "markdown" });
    await expect(again.call({ markdown: "x".repeat(MAX_MARKDOWN_BYTES + 1) })).rejects.toMatchObject({
      code: "payload_too_large",
      data: { bytes: MAX_MARKDOWN_BYTES + 1, limitBytes: MAX_MARKDOWN_BYTES },
    });
  });
});
