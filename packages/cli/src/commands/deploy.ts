import { buildImages, deployFunctions } from "../docker/actions.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand } from "./command.js";
import { checkFunctionNames, dockerFailure } from "./docker-support.js";

/** How long `funker deploy` waits for every replica to run, unless --no-wait. */
const DEPLOY_WAIT_MS = 60_000;

/** `funker deploy`: makes the Swarm services match funker.yml (src/docker/). */
export const deploy = defineCommand({
  name: "deploy",
  synopsis: "deploy [name…]",
  summary: "create or update the functions as Swarm services",
  help: `Usage: funker deploy [name…] [options]

Creates or updates one Swarm service per function of funker.yml (or those
named), named after the function, on the attachable overlay network
(\`network\`, default funker, created when missing): its replicas, endpoint
mode (dnsrr by default), restart condition any (delay 0 for single-shot
functions), a stop grace period above the function's timeout, its
environment, secrets, volumes (a named volume is <stack>_<name>) and
io.funker.* labels. An existing service is updated and its replicas
replaced. The services of services: that have an image are deployed first,
as plain services under their own names (their publish port published).
Waits until every replica runs.

Options:
      --build          run funker build first
      --no-wait        return once Docker has the services
      --resolve-image  ask the registry for each image's digest (images pushed to a registry)
  -f, --file <path>    the funker.yml to use
  -h, --help           this help`,
  options: {
    build: { type: "boolean" },
    "no-wait": { type: "boolean" },
    "resolve-image": { type: "boolean" },
  },
  async run({ values, positionals }, context) {
    const config = context.loadConfig(values.file);
    checkFunctionNames(config, positionals, { services: true });
    // funker build builds functions only: the services' images come from elsewhere.
    const functions = positionals.filter((name) => config.functions.some((spec) => spec.name === name));
    if (values.build === true && (positionals.length === 0 || functions.length > 0)) {
      const built = await buildImages(config, { only: functions, output: context.stderr });
      if (!built.ok) return dockerFailure(context, "deploy", built.message);
    }
    const outcome = await deployFunctions(config, {
      only: positionals,
      output: context.stderr,
      resolveImage: values["resolve-image"] === true,
      waitMs: values["no-wait"] === true ? 0 : DEPLOY_WAIT_MS,
    });
    return outcome.ok ? ExitCode.ok : dockerFailure(context, "deploy", outcome.message);
  },
});
