import type { OptionLabels, Tally, VoteValue } from "./votes.js";
import { percentages, VOTE_VALUES } from "./votes.js";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const STYLE = `
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; }
.choices { display: flex; gap: 1rem; }
.choices button { flex: 1; font-size: 1.4rem; padding: 1.5rem; cursor: pointer; border-radius: .5rem; border: 2px solid #446; background: #eef; }
.choices button.chosen { background: #446; color: #fff; }
.notice { padding: .75rem 1rem; border-radius: .5rem; background: #e8f5e9; }
.error { padding: .75rem 1rem; border-radius: .5rem; background: #fdecea; }
.bar { height: 1rem; background: #ddd; border-radius: .25rem; overflow: hidden; }
.bar span { display: block; height: 100%; background: #446; }
table { width: 100%; border-collapse: collapse; }
td { padding: .4rem 0; }
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function question(labels: OptionLabels): string {
  return `${labels.a} or ${labels.b}?`;
}

/** What the ballot says about the vote just cast, from the redirect's query string. */
export type VoteNotice = { vote: VoteValue; stored: boolean } | undefined;

/**
 * The ballot: a plain form, so voting works without JavaScript. After a vote
 * it shows the choice, as the seed's page did; a voter may vote again, and
 * the new vote replaces the old.
 */
export function votingPage(labels: OptionLabels, notice: VoteNotice): string {
  const buttons = VOTE_VALUES.map((value) => {
    const chosen = notice?.vote === value ? ' class="chosen"' : "";
    return `<button type="submit" name="vote" value="${value}" id="vote-${value}"${chosen}>${escapeHtml(labels[value])}</button>`;
  }).join("\n");
  const said =
    notice === undefined
      ? ""
      : `<p class="notice" id="notice">${notice.stored ? "Your vote is counted" : "Your vote is received"}: ${escapeHtml(labels[notice.vote])}. You can change it at any time.</p>`;
  return layout(
    `Vote: ${question(labels)}`,
    `<h1>${escapeHtml(question(labels))}</h1>
${said}
<form method="post" action="/vote" class="choices">
${buttons}
</form>
<p><a href="/results" id="results-link">See the results</a></p>`,
  );
}

/**
 * The script of the results page: it follows `/results/stream` (Server-Sent
 * Events) and rewrites the counts in place, so the page is live without a
 * reload. It sets text and widths only, never HTML.
 */
const LIVE_SCRIPT = `
const stream = new EventSource("/results/stream");
stream.addEventListener("counts", (event) => {
  const tally = JSON.parse(event.data);
  for (const value of ["a", "b"]) {
    const count = tally.counts[value];
    const percent = tally.total === 0 ? 0 : Math.round((count / tally.total) * 100);
    document.getElementById("count-" + value).textContent = String(count);
    document.getElementById("percent-" + value).textContent = percent + "%";
    document.getElementById("bar-" + value).style.width = percent + "%";
  }
  document.getElementById("total").textContent = tally.total + (tally.total === 1 ? " vote" : " votes") + " in all.";
  document.body.dataset.live = "yes";
});
stream.addEventListener("error", () => { document.body.dataset.live = "reconnecting"; });
`;

/** The results: the counts when the page was made, then live through the stream. */
export function resultsPage(labels: OptionLabels, tally: Tally): string {
  const percent = percentages(tally);
  const rows = VOTE_VALUES.map(
    (value) => `<tr><td>${escapeHtml(labels[value])}</td>
<td id="count-${value}">${tally.counts[value]}</td>
<td id="percent-${value}">${percent[value]}%</td>
<td style="width:50%"><div class="bar"><span id="bar-${value}" style="width:${percent[value]}%"></span></div></td></tr>`,
  ).join("\n");
  return layout(
    `Results: ${question(labels)}`,
    `<h1>Results</h1>
<table>
${rows}
</table>
<p id="total">${tally.total} ${tally.total === 1 ? "vote" : "votes"} in all.</p>
<p><a href="/">Back to the vote</a></p>
<script>${LIVE_SCRIPT}</script>`,
  );
}

/** A page for a failure, with the explanation a voter can act on. */
export function errorPage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p class="error" id="error">${escapeHtml(message)}</p>\n<p><a href="/">Back to the vote</a> · <a href="/results">Results</a></p>`);
}
