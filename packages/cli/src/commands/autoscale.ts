import { Autoscaler, DEFAULT_DOCKER_SOCKET, DockerEngine, WAKE_PORT } from "@funker/autoscaler";
import { ExitCode } from "../exit-code.js";
import { UsageError } from "../usage-error.js";
import { defineCommand, durationFlag, noPositionals } from "./command.js";

/** `funker autoscale`: the autoscaler's service loop (@funker/autoscaler), until SIGTERM or SIGINT. */
export const autoscale = defineCommand({
  name: "autoscale",
  synopsis: "autoscale",
  summary: "scale the functions on Swarm from their free capacity",
  help: `Usage: funker autoscale [options]

Runs the autoscaler on a Swarm manager until SIGTERM or SIGINT: every tick it
reads each replica's status port (9998) of every service labelled
io.funker.function with io.funker.scale.* labels, and sets its replica
count. One JSON line on stdout per change; services with wrong labels are
logged once and left alone. A function with io.funker.scale.min 0 goes to
zero replicas after its idle period; a caller that finds none asks for one
with POST /wake/<function> on the wake port (@funker/autoscaler's README).
Needs the Docker socket and the functions' network.

Options:
      --stack <name>      only the functions of this stack (io.funker.stack)
      --interval <time>   time between ticks (default 1s)
      --socket <path>     the Docker socket (default ${DEFAULT_DOCKER_SOCKET})
      --wake-port <port>  the wake port (default ${WAKE_PORT}; off: none)
  -f, --file <path>       not used
  -h, --help              this help`,
  options: { stack: { type: "string" }, interval: { type: "string" }, socket: { type: "string" }, "wake-port": { type: "string" } },
  async run({ values, positionals }) {
    noPositionals(positionals);
    if (values.stack === "") throw new UsageError("--stack needs a stack name");
    const wakePortText = values["wake-port"];
    const wakePort = wakePortText === undefined ? WAKE_PORT : wakePortText === "off" ? false : Number(wakePortText);
    if (wakePort !== false && !(Number.isInteger(wakePort) && wakePort >= 1 && wakePort <= 65_535)) {
      throw new UsageError(`--wake-port must be a port from 1 to 65535, or off; got ${JSON.stringify(wakePortText)}`);
    }
    const autoscaler = new Autoscaler({
      engine: new DockerEngine(values.socket ?? DEFAULT_DOCKER_SOCKET),
      intervalMs: durationFlag("interval", values.interval, "1s"),
      labels: values.stack === undefined ? [] : [`io.funker.stack=${values.stack}`],
      wakePort,
    });
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    try {
      await autoscaler.run(stop.signal);
    } finally {
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    return ExitCode.ok;
  },
});
