import { resolve } from "node:path";
import type { FunkerConfig } from "../config/funker-yml.js";
import { runDev } from "../dev/runtime.js";
import { useColour } from "../terminal.js";
import { defineCommand, durationFlag, UsageError } from "./command.js";

/** Node's own default inspector port. */
const DEFAULT_INSPECT_PORT = 9229;

/** `funker dev`: the local runtime (src/dev/). */
export const dev = defineCommand({
  name: "dev",
  synopsis: "dev [<name>…] [-- <cmd>…]",
  summary: "run every function of funker.yml on this machine",
  help: `Usage: funker dev [<function>…] [options] [-- <command> [args…]]

Builds every function of funker.yml, or only the functions named, and runs
their replicas as local processes on 127.0.0.1, as Docker would: a
single-shot replica is replaced at once after each call, on the same port; a
fresh replica stays up and starts a process per call itself; one that fails to start is restarted with a back-off (100 ms
doubling to 10 s). Output is prefixed by function and replica
(add.1 | …) on standard error. A function is rebuilt and restarted when its
source changes. Ctrl-C (or SIGTERM) stops every process.

Every replica, and the command after --, gets FUNKER_ENDPOINTS, so
call("add") works unchanged. With a command, funker dev waits until every
replica listens, runs it, then stops and exits with the command's exit code.
Other terminals find the runtime through .funker/dev.json beside funker.yml.
Nothing is mounted: each volume is a local folder (a named volume
.funker/volumes/<name>, a bind mount its host path), and a variable whose
value is a volume's target points there instead. Each secret is read from
secrets/<name> beside funker.yml and copied to a private folder for the run,
named by FUNKER_SECRETS_DIR (/run/secrets on Docker). The keys of secret:
are read the same way and given to every replica, service and the command
as FUNKER_SECRET_FILE (and FUNKER_SECRET_FILES), and copied again whenever
their file changes, so running replicas follow a rotation.

Each service of services: with a command runs too, before the functions, in
the folder of funker.yml, with PORT and HOST telling it where to listen: on
its publish port, else a free one. A variable naming a service as
<name>:<port>, as on Docker (postgres://db:5432/…), is given its local
address, and FUNKER_SERVICES lists them all. Services are restarted with the
same back-off, and stopped after the functions.

Options:
  -f, --file <path>      the funker.yml to use
  -p, --port <port>      give replicas consecutive ports from <port> (default: free ports)
      --inspect[=<port>] run replicas under Node's inspector, one port each from
                         <port> (default 9229), printed at start; each process
                         of a fresh replica gets a free port, printed as it starts
      --keep             stay up after the command exits, until Ctrl-C
      --no-watch         do not rebuild when sources change
      --no-publish       give services with a publish port a free port instead
      --ready-timeout <duration>  how long the command waits for every replica (default 60s)
      --volumes <path>   where named volumes' folders are (default .funker/volumes beside funker.yml)
      --secrets <path>   where secrets' files are (default secrets beside funker.yml)
  -h, --help             this help`,
  options: {
    port: { type: "string", short: "p" },
    inspect: { type: "string" },
    keep: { type: "boolean" },
    "no-watch": { type: "boolean" },
    "no-publish": { type: "boolean" },
    "ready-timeout": { type: "string" },
    volumes: { type: "string" },
    secrets: { type: "string" },
  },
  bareOptions: { "--inspect": `--inspect=${DEFAULT_INSPECT_PORT}` },
  takesCommand: true,
  run({ values, positionals, rest }, context) {
    if (rest !== undefined && rest.length === 0) throw new UsageError("nothing after --; give a command to run, or leave out --");
    const portBase = portOption("port", values.port);
    const inspectBase = portOption("inspect", values.inspect);
    const readyTimeoutMs = durationFlag("ready-timeout", values["ready-timeout"], "30s");
    const config = onlyFunctions(context.loadConfig(values.file), positionals);
    const replicas = config.functions.reduce((sum, spec) => sum + spec.replicas, 0);
    for (const [flag, base] of [["port", portBase], ["inspect", inspectBase]] as const) {
      if (base === undefined || base + replicas - 1 <= 65_535) continue;
      throw new UsageError(`--${flag} ${base} gives the ${replicas} replicas the ports ${base} to ${base + replicas - 1}, past 65535; choose ${65_536 - replicas} or lower`);
    }
    return runDev({
      config,
      command: rest,
      keep: values.keep === true,
      watch: values["no-watch"] !== true,
      publish: values["no-publish"] !== true,
      portBase,
      inspectBase,
      readyTimeoutMs,
      volumesDirectory: values.volumes === undefined ? undefined : resolve(values.volumes),
      secretsDirectory: values.secrets === undefined ? undefined : resolve(values.secrets),
      output: process.stderr,
      colour: useColour(process.stderr),
    });
  },
});

/** funker.yml with only the functions named on the command line (all of them when none is named). */
function onlyFunctions(config: FunkerConfig, names: readonly string[]): FunkerConfig {
  if (names.length === 0) return config;
  const known = new Set(config.functions.map((spec) => spec.name));
  const unknown = names.find((name) => !known.has(name));
  if (unknown !== undefined) {
    throw new UsageError(`no function "${unknown}" in funker.yml (functions: ${[...known].sort().join(", ")}); put a command to run after --`);
  }
  return { ...config, functions: config.functions.filter((spec) => names.includes(spec.name)) };
}

function portOption(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError(`--${flag} "${value}" is not a port number`);
  return port;
}
