#!/usr/bin/env node
// How long after a vote an open results stream shows it: votes ten new
// voters one after the other and times, for each, from the vote's answer
// (the 303) to the stream's event with the new counts. Run under funker dev,
// from the repository root, after `pnpm build`:
//   pnpm funker dev --no-watch --no-publish --volumes "$(mktemp -d)" -f examples/voting-app/funker.yml -- node examples/voting-app/scripts/measure-live.mjs
// Prints one JSON line. Wall-clock on a shared machine.
const web = (process.env.FUNKER_SERVICES ?? "").split(";").find((entry) => entry.startsWith("web="))?.slice(4);
if (web === undefined) throw new Error("run under funker dev: FUNKER_SERVICES names the web service");
const base = `http://${web}`;

const events = [];
const waiting = [];
const stream = await fetch(`${base}/results/stream`);
void (async () => {
  let buffered = "";
  for await (const chunk of stream.body) {
    buffered += Buffer.from(chunk).toString("utf8");
    for (const match of buffered.matchAll(/event: counts\ndata: (.*)\n\n/g)) {
      const tally = JSON.parse(match[1]);
      events.push(tally);
      for (const wait of waiting.splice(0)) wait(tally);
    }
    buffered = buffered.slice(buffered.lastIndexOf("\n\n") + 2);
  }
})();
const shows = (total) =>
  new Promise((resolve) => {
    if (events.some((tally) => tally.total === total)) return resolve();
    const check = (tally) => (tally.total === total ? resolve() : waiting.push(check));
    waiting.push(check);
  });

await shows(0);
const latencies = [];
for (let voter = 1; voter <= 10; voter += 1) {
  const cookie = (await fetch(`${base}/`)).headers.get("set-cookie").split(";")[0];
  const answered = await fetch(`${base}/vote`, { method: "POST", redirect: "manual", headers: { cookie, "content-type": "application/x-www-form-urlencoded" }, body: "vote=a" });
  if (answered.status !== 303) throw new Error(`vote ${voter}: ${answered.status}`);
  const started = performance.now();
  await shows(voter);
  latencies.push(Math.round(performance.now() - started));
}
latencies.sort((a, b) => a - b);
console.log(JSON.stringify({ votes: latencies.length, voteToStreamMs: { min: latencies[0], median: latencies[5], max: latencies.at(-1) } }));
process.exit(0);
