import { join } from "node:path";
import { writeComposeFile } from "../docker/actions.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand, noPositionals, UsageError } from "./command.js";

/** `funker compose`: writes a compose file for plain Compose (src/docker/). */
export const compose = defineCommand({
  name: "compose",
  synopsis: "compose",
  summary: "write a docker-compose.yml for plain Compose",
  help: `Usage: funker compose [options]

Writes a docker-compose.yml for plain Compose (one machine, no Swarm): a
service per function with restart: always, deploy.replicas, the same
environment, labels and volumes, and one per service of services: with an
image, on a bridge network (<network>-bridge). Plain
Compose restarts exited containers with a doubling back-off, so single-shot
functions are served in fresh mode (a process per call, started ahead by the
replica, whose container never exits) unless --single-shot says otherwise.

Options:
  -o, --output <path>       where to write (default docker-compose.yml beside funker.yml; - for standard output)
      --single-shot <how>   fresh (default), reuse or keep
      --network <name>      the bridge network's name
  -f, --file <path>         the funker.yml to use
  -h, --help                this help`,
  options: {
    output: { type: "string", short: "o" },
    "single-shot": { type: "string" },
    network: { type: "string" },
  },
  run({ values, positionals }, context) {
    noPositionals(positionals);
    const singleShot = values["single-shot"] ?? "fresh";
    if (singleShot !== "fresh" && singleShot !== "reuse" && singleShot !== "keep") {
      throw new UsageError(`--single-shot must be fresh, reuse or keep, got "${singleShot}"`);
    }
    const config = context.loadConfig(values.file);
    const file = values.output ?? join(config.root, "docker-compose.yml");
    const text = writeComposeFile(config, file, {
      output: context.stderr,
      singleShot,
      ...(values.network === undefined ? {} : { network: values.network }),
    });
    if (file === "-") context.stdout.write(text);
    return ExitCode.ok;
  },
});
