// The README's demo: an app that calls the example functions by name. Run
// under `funker dev -- node packages/cli/demo/demo.mjs`, which starts the
// functions and sets FUNKER_ENDPOINTS; in Docker the same code finds them
// by their service names.
import { call } from "@funker/client";

const sum = await call("add", { x: 1, y: 2 });
console.log(`add({ x: 1, y: 2 })    → ${JSON.stringify(sum)}`);

// Single-shot replicas exit after each call and are replaced at once, on the
// same port: these three calls at once are spread over the replicas.
const sums = await Promise.all([10, 20, 30].map((x) => call("add", { x, y: 1 })));
console.log(`add x = 10, 20, 30, y = 1 → ${JSON.stringify(sums)}`);

const text = "Crème brûlée, 2 ways!";
const slug = await call("slugify", { text });
console.log(`slugify(${JSON.stringify(text)}) → ${JSON.stringify(slug)}`);

try {
  await call("slugify", { text: 42 });
} catch (error) {
  console.log(`slugify({ text: 42 })  → error ${error.code}: ${error.message}`);
}

if (sum !== 3 || JSON.stringify(sums) !== "[11,21,31]" || slug !== "creme-brulee-2-ways") {
  console.error("demo: unexpected results");
  process.exit(1);
}
console.log("demo: every call answered");
