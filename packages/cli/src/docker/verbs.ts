import { join } from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "../arguments.js";
import type { FunkerConfig } from "../config.js";
import type { TextSink } from "./commands.js";
import { buildImages, deployFunctions, removeFunctions, writeComposeFile } from "./commands.js";

/** The help of the Docker verbs, in the form of the other verbs' help. */
export const DOCKER_HELP = {
  build: `Usage: funker build [name…] [options]

Bundles each function of funker.yml (or only those named) into one file with
its dependencies and builds its image (the function's \`image\`, default
<name>:latest) on node:20-bookworm-slim: the bundle, run as the node user,
port 9999. A function with its own \`dockerfile\` is built from that file's
folder instead. Build contexts are kept in .funker/image/<name>/.

Options:
      --verbose      show Docker's build output
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,

  deploy: `Usage: funker deploy [name…] [options]

Creates or updates one Swarm service per function of funker.yml (or those
named), named after the function, on the attachable overlay network
(\`network\`, default funker, created when missing): its replicas, endpoint
mode (dnsrr by default), restart condition any (delay 0 for single-shot
functions), a stop grace period above the function's timeout, its
environment, secrets, volumes (a named volume is <stack>_<name>) and
io.funker.* labels. An existing service is updated and its replicas
replaced. Waits until every replica runs.

Options:
      --build          run funker build first
      --no-wait        return once Docker has the services
      --resolve-image  ask the registry for each image's digest (images pushed to a registry)
  -f, --file <path>    the funker.yml to use
  -h, --help           this help`,

  compose: `Usage: funker compose [options]

Writes a docker-compose.yml for plain Compose (one machine, no Swarm): a
service per function with restart: always, deploy.replicas, the same
environment, labels and volumes, on a bridge network (<network>-bridge). Plain
Compose restarts exited containers with a doubling back-off, so single-shot
functions are served in reuse mode unless --single-shot keep.

Options:
  -o, --output <path>       where to write (default docker-compose.yml beside funker.yml; - for standard output)
      --single-shot <how>   reuse (default) or keep
      --network <name>      the bridge network's name
  -f, --file <path>         the funker.yml to use
  -h, --help                this help`,

  rm: `Usage: funker rm [name…] [options]

Removes the Swarm services of this funker.yml's stack (labelled
io.funker.stack=<name>), or only the named functions. The network stays.

Options:
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,
} as const;

export type DockerVerb = keyof typeof DOCKER_HELP;

/** Whether a word names one of the Docker verbs. */
export function isDockerVerb(verb: string): verb is DockerVerb {
  return Object.hasOwn(DOCKER_HELP, verb);
}

export interface DockerVerbContext {
  /** Loads funker.yml: the one named by --file, else the nearest one (the CLI's `configFor`). */
  readonly loadConfig: (file: string | undefined) => FunkerConfig;
  /** Progress and errors; standard error in the CLI. */
  readonly output: TextSink;
  /** Results (the compose file with -o -); standard output in the CLI. */
  readonly stdout: TextSink;
}

const FILE_OPTION = { file: { type: "string", short: "f" }, help: { type: "boolean", short: "h" } } as const;

/**
 * Runs `funker build|deploy|compose|rm` and resolves with the exit code: 0
 * done, 1 Docker or a bundle failed (the message says which step), 2 usage.
 * Usage errors are thrown as `UsageError`, as the other verbs do.
 */
export async function runDockerVerb(verb: DockerVerb, args: readonly string[], context: DockerVerbContext): Promise<number> {
  const fail = (message: string): number => {
    context.output.write(`funker ${verb}: ${message}\n`);
    return 1;
  };
  switch (verb) {
    case "build": {
      const { values, positionals } = parse(args, { ...FILE_OPTION, verbose: { type: "boolean" } });
      if (values.help === true) return help(context, verb);
      const config = context.loadConfig(values.file);
      checkNames(config, positionals);
      const outcome = await buildImages(config, { only: positionals, output: context.output, verbose: values.verbose === true });
      return outcome.ok ? 0 : fail(outcome.message);
    }
    case "deploy": {
      const { values, positionals } = parse(args, {
        ...FILE_OPTION,
        build: { type: "boolean" },
        "no-wait": { type: "boolean" },
        "resolve-image": { type: "boolean" },
      });
      if (values.help === true) return help(context, verb);
      const config = context.loadConfig(values.file);
      checkNames(config, positionals);
      if (values.build === true) {
        const built = await buildImages(config, { only: positionals, output: context.output });
        if (!built.ok) return fail(built.message);
      }
      const outcome = await deployFunctions(config, {
        only: positionals,
        output: context.output,
        resolveImage: values["resolve-image"] === true,
        waitMs: values["no-wait"] === true ? 0 : 60_000,
      });
      return outcome.ok ? 0 : fail(outcome.message);
    }
    case "compose": {
      const { values, positionals } = parse(args, {
        ...FILE_OPTION,
        output: { type: "string", short: "o" },
        "single-shot": { type: "string" },
        network: { type: "string" },
      });
      if (values.help === true) return help(context, verb);
      if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`);
      const singleShot = values["single-shot"] ?? "reuse";
      if (singleShot !== "reuse" && singleShot !== "keep") throw new UsageError(`--single-shot must be reuse or keep, got "${singleShot}"`);
      const config = context.loadConfig(values.file);
      const file = values.output ?? join(config.root, "docker-compose.yml");
      const text = writeComposeFile(config, file, {
        output: context.output,
        singleShot,
        ...(values.network === undefined ? {} : { network: values.network }),
      });
      if (file === "-") context.stdout.write(text);
      return 0;
    }
    case "rm": {
      const { values, positionals } = parse(args, FILE_OPTION);
      if (values.help === true) return help(context, verb);
      const config = context.loadConfig(values.file);
      checkNames(config, positionals);
      const outcome = await removeFunctions(config, { only: positionals, output: context.output });
      return outcome.ok ? 0 : fail(outcome.message);
    }
  }
}

function help(context: DockerVerbContext, verb: DockerVerb): number {
  context.stdout.write(`${DOCKER_HELP[verb]}\n`);
  return 0;
}

function checkNames(config: FunkerConfig, names: readonly string[]): void {
  const unknown = names.filter((name) => !config.functions.some((spec) => spec.name === name));
  if (unknown.length > 0) {
    const known = config.functions.map((spec) => spec.name).join(", ");
    throw new UsageError(`no function ${unknown.map((name) => `"${name}"`).join(", ")} in funker.yml (functions: ${known})`);
  }
}

function parse<Options extends NonNullable<ParseArgsConfig["options"]>>(args: readonly string[], options: Options) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
}
