import { buildImages, DEFAULT_DEPLOY_WAIT_MS, deployFunctions } from "../docker/actions.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand, durationFlag, UsageError } from "./command.js";
import { checkFunctionNames, dockerFailure } from "./docker-support.js";

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
replaced one at a time, each new one started before the old one stops; a
failed update is rolled back for reuse and fresh functions (docs/deploy.md).
The services of services: that have an image are deployed first, as plain
services under their own names (their publish port published). Waits until
each update has ended and every new service's replicas run; an update Swarm
paused or rolled back is an error, with Swarm's message.

Options:
      --build                    run funker build first
      --no-wait                  return once Docker has the services
      --wait-timeout <duration>  how long to wait for the updates and replicas (default 2m)
      --resolve-image            ask the registry for each image's digest (images pushed to a registry)
  -f, --file <path>              the funker.yml to use
  -h, --help                     this help`,
  options: {
    build: { type: "boolean" },
    "no-wait": { type: "boolean" },
    "wait-timeout": { type: "string" },
    "resolve-image": { type: "boolean" },
  },
  async run({ values, positionals }, context) {
    const waitTimeoutMs = durationFlag("wait-timeout", values["wait-timeout"], "5m");
    if (waitTimeoutMs !== undefined && values["no-wait"] === true) throw new UsageError("--no-wait and --wait-timeout contradict each other: give one");
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
      waitMs: values["no-wait"] === true ? 0 : (waitTimeoutMs ?? DEFAULT_DEPLOY_WAIT_MS),
    });
    return outcome.ok ? ExitCode.ok : dockerFailure(context, "deploy", outcome.message);
  },
});
