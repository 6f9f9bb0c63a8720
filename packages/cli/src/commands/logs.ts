import { spawn } from "node:child_process";
import type { FunkerConfig } from "../config/funker-yml.js";
import { readDevLog } from "../dev/log-file.js";
import { isAlive, readState } from "../dev/state.js";
import { runDocker } from "../docker/run.js";
import { ExitCode, exitCodeOf } from "../exit-code.js";
import { defineCommand } from "./command.js";
import type { CommandContext } from "./command.js";
import { checkFunctionNames, dockerFailure } from "./docker-support.js";

/** `funker logs`: the replicas' output, from the running `funker dev` or from Docker. */
export const logs = defineCommand({
  name: "logs",
  synopsis: "logs [name…] [--follow]",
  summary: "show the replicas' output (funker dev, or Docker)",
  help: `Usage: funker logs [<name>…] [options]

Shows the output of the replicas of the running \`funker dev\`, as it prints
it (add.1 | …), of every function and service or only those named. funker
dev keeps it in .funker/dev.log beside funker.yml, emptied at each start;
past 1 MiB the file moves to .funker/dev.log.1, so at most the last 2 MiB
are shown. With --follow, lines are printed as they come until funker dev
stops (or Ctrl-C).

When no funker dev runs here, the stack's Swarm services (funker deploy) are
asked instead: \`docker service logs [--follow] <service>\` for each one named,
or each one of the stack. Exits 3 when neither runs.

Options:
      --follow       keep printing new lines
  -f, --file <path>  the funker.yml whose runtime to show
  -h, --help         this help`,
  options: { follow: { type: "boolean" } },
  run({ values, positionals }, context) {
    const config = context.loadConfig(values.file);
    checkFunctionNames(config, positionals, { services: true });
    return runLogs(config, { names: positionals, follow: values.follow === true }, context);
  },
});

export interface LogsOptions {
  readonly names: readonly string[];
  readonly follow: boolean;
}

/** `funker logs`: from the running `funker dev`, else from the stack's Swarm services, else exit code 3. */
export async function runLogs(config: FunkerConfig, options: LogsOptions, context: CommandContext): Promise<number> {
  const state = readState(config.root);
  if (state !== undefined) {
    const stop = new AbortController();
    const onInterrupt = (): void => stop.abort();
    process.once("SIGINT", onInterrupt);
    try {
      await readDevLog({
        root: config.root,
        names: options.names,
        onLine: (line) => context.stdout.write(`${line}\n`),
        ...(options.follow ? { follow: { keepFollowing: () => isAlive(state.pid), signal: stop.signal } } : {}),
      });
    } finally {
      process.off("SIGINT", onInterrupt);
    }
    return ExitCode.ok;
  }
  const listed = await runDocker(["service", "ls", "--filter", `label=io.funker.stack=${config.name}`, "--format", "{{.Name}}"]);
  const deployed = listed.code === 0 ? listed.stdout.split("\n").filter((name) => name !== "") : [];
  if (deployed.length === 0) {
    context.stderr.write(`funker: funker dev is not running here, and no service of stack ${config.name} is on Docker; start one with \`funker dev\` or \`funker deploy\`\n`);
    return ExitCode.noRuntime;
  }
  const missing = options.names.filter((name) => !deployed.includes(name));
  if (missing.length > 0) return dockerFailure(context, "logs", `not deployed in stack ${config.name}: ${missing.join(", ")} (deployed: ${deployed.join(", ")})`);
  const codes = await Promise.all(dockerLogsCommands(options.names.length > 0 ? options.names : deployed, options.follow).map(runInherited));
  return codes.find((code) => code !== ExitCode.ok) ?? ExitCode.ok;
}

/** The `docker` arguments that show each service's output: Docker's own command, with its task prefix (add.1.<task>@<node> |). */
export function dockerLogsCommands(services: readonly string[], follow: boolean): string[][] {
  return services.map((service) => ["service", "logs", ...(follow ? ["--follow"] : []), service]);
}

/** Runs `docker` with this process's terminal, so its lines come as Docker prints them, Ctrl-C included. */
function runInherited(args: readonly string[]): Promise<number> {
  const program = process.env["FUNKER_DOCKER"] ?? "docker";
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", () => resolve(ExitCode.failed));
    child.on("close", (code, signal) => resolve(exitCodeOf(code, signal)));
  });
}
