// funker/autoscaler's program: the autoscaler's loop and wake port (@funker/autoscaler) until SIGTERM.
// FUNKER_AUTOSCALE_LABELS: the labels a function must also carry to be managed here, comma-separated
// (`funker deploy` sets io.funker.stack=<stack>); empty: every function on the engine.
import { Autoscaler } from "@funker/autoscaler";

const labels = (process.env["FUNKER_AUTOSCALE_LABELS"] ?? "")
  .split(",")
  .map((label) => label.trim())
  .filter((label) => label !== "");
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
process.once("SIGINT", () => stop.abort());
process.stdout.write(`${JSON.stringify({ level: "info", msg: "started", labels })}\n`);
await new Autoscaler({ labels }).run(stop.signal);
