import { removeFunctions } from "../docker/actions.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand } from "./command.js";
import { checkFunctionNames, dockerFailure } from "./docker-support.js";

/** `funker rm`: removes the stack's Swarm services (src/docker/). */
export const rm = defineCommand({
  name: "rm",
  synopsis: "rm [name…]",
  summary: "remove the functions' Swarm services",
  help: `Usage: funker rm [name…] [options]

Removes the Swarm services of this funker.yml's stack (labelled
io.funker.stack=<name>): its functions and its services, or only those
named. The network and the volumes stay.

Options:
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,
  options: {},
  async run({ values, positionals }, context) {
    const config = context.loadConfig(values.file);
    checkFunctionNames(config, positionals, { services: true });
    const outcome = await removeFunctions(config, { only: positionals, output: context.stderr });
    return outcome.ok ? ExitCode.ok : dockerFailure(context, "rm", outcome.message);
  },
});
