import type { Tally, VotingOption } from "./votes.js";
import { VOTING_OPTIONS } from "./votes.js";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

const STYLE = `
body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; }
.choices { display: flex; gap: 1rem; }
.choices button { flex: 1; font-size: 1.4rem; padding: 1.5rem; cursor: pointer; border-radius: .5rem; border: 2px solid #446; background: #eef; }
.notice { padding: .75rem 1rem; border-radius: .5rem; background: #e8f5e9; }
.notice.duplicate { background: #fff8e1; }
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

/** The ballot: a plain form, so voting works without JavaScript. */
export function votingPage(): string {
  const buttons = Object.entries(VOTING_OPTIONS)
    .map(([value, label]) => `<button type="submit" name="option" value="${escapeHtml(value)}" id="vote-${escapeHtml(value)}">${escapeHtml(label)}</button>`)
    .join("\n");
  return layout(
    "Vote: Cats or Dogs?",
    `<h1>Cats or Dogs?</h1>
<form method="post" action="/vote" class="choices">
${buttons}
</form>
<p><a href="/results" id="results-link">See the results</a></p>`,
  );
}

/** What the results page says about the vote just cast, from the redirect's query string. */
export type VoteNotice = { status: "recorded" | "duplicate"; option: VotingOption } | undefined;

/** Percentages rounded to whole numbers; 0 for every option before the first vote. */
export function percentages(tally: Tally): Record<VotingOption, number> {
  const entries = Object.keys(VOTING_OPTIONS).map((option) => {
    const count = tally.counts[option as VotingOption];
    return [option, tally.total === 0 ? 0 : Math.round((count / tally.total) * 100)];
  });
  return Object.fromEntries(entries) as Record<VotingOption, number>;
}

export function resultsPage(tally: Tally, notice: VoteNotice): string {
  const percent = percentages(tally);
  const rows = Object.entries(VOTING_OPTIONS)
    .map(([value, label]) => {
      const option = value as VotingOption;
      return `<tr><td>${escapeHtml(label)}</td>
<td id="count-${option}">${tally.counts[option]}</td>
<td id="percent-${option}">${percent[option]}%</td>
<td style="width:50%"><div class="bar"><span style="width:${percent[option]}%"></span></div></td></tr>`;
    })
    .join("\n");
  let noticeHtml = "";
  if (notice?.status === "recorded") {
    noticeHtml = `<p class="notice" id="notice">Thank you: your vote for ${escapeHtml(VOTING_OPTIONS[notice.option])} is counted.</p>`;
  } else if (notice?.status === "duplicate") {
    noticeHtml = `<p class="notice duplicate" id="notice">You have already voted, for ${escapeHtml(VOTING_OPTIONS[notice.option])}: each voter is counted once.</p>`;
  }
  return layout(
    "Results: Cats or Dogs?",
    `<h1>Results</h1>
${noticeHtml}
<table>
${rows}
</table>
<p id="total">${tally.total} ${tally.total === 1 ? "vote" : "votes"} in all.</p>
<p><a href="/">Back to the vote</a></p>`,
  );
}

/** A page for a failure, with the explanation a voter can act on. */
export function errorPage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p class="error" id="error">${escapeHtml(message)}</p>\n<p><a href="/">Back to the vote</a> · <a href="/results">Results</a></p>`);
}
