import { DOCKER_HELP } from "./docker/verbs.js";

/**
 * The help of every verb, in one place: `--help` prints it, and the README
 * quotes it (a test keeps them the same).
 */
export const HELP = {
  funker: `Usage: funker <command> [options]

Run Funker functions locally, call them, scaffold new ones, and deploy them
as Docker services.

Commands:
  dev [-- <command>…]         run every function of funker.yml on this machine
  call <name> [key=value…]    call a function and print its result as JSON
  new <name>                  scaffold a TypeScript function and add it to funker.yml
  ls                          list the functions and where they listen
  status                      replicas: idle or busy, calls served, last error
  build [name…]               bundle functions and build their Docker images
  deploy [name…]              create or update the functions as Swarm services
  compose                     write a docker-compose.yml for plain Compose
  rm [name…]                  remove the functions' Swarm services

Options:
  -f, --file <path>  the funker.yml to use (default: the nearest one above the working directory)
  -h, --help         help for funker, or for a command: funker <command> --help
  -v, --version      print the version

Exit codes: 0 success, 1 failure (a call failed, a function failed to build or
start), 2 usage or funker.yml error, 3 no running \`funker dev\` found.
\`funker dev -- <command>\` exits with the command's code.`,

  dev: `Usage: funker dev [options] [-- <command> [args…]]

Builds every function of funker.yml and runs its replicas as local processes
on 127.0.0.1, as Docker would: a single-shot replica is replaced at once after
each call, on the same port; one that fails to start is restarted with a
back-off (100 ms doubling to 10 s). Output is prefixed by function and replica
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
named by FUNKER_SECRETS_DIR (/run/secrets on Docker).

Options:
  -f, --file <path>      the funker.yml to use
  -p, --port <port>      give replicas consecutive ports from <port> (default: free ports)
      --keep             stay up after the command exits, until Ctrl-C
      --no-watch         do not rebuild when sources change
      --ready-timeout <duration>  how long the command waits for every replica (default 60s)
      --volumes <path>   where named volumes' folders are (default .funker/volumes beside funker.yml)
      --secrets <path>   where secrets' files are (default secrets beside funker.yml)
  -h, --help             this help`,

  call: `Usage: funker call <name> [key=value…] [options]

Calls a function and prints its result as JSON on standard output. Arguments:
key=value pairs (a value that parses as JSON is that JSON: x=1 is a number,
name=Ada a string), or --data '<json>', or JSON on standard input.

The function is found through --endpoint, else FUNKER_ENDPOINTS, else the
running \`funker dev\` of this project (.funker/dev.json).

On failure prints "error <code>: <message>" on standard error and exits 1
(3 when no running funker dev is found, 2 for arguments that do not parse).

Options:
  -d, --data <json>      the arguments as JSON ("-" reads standard input)
  -t, --timeout <duration>  the whole call's time limit, e.g. 5s (default 60s)
      --legacy           speak the 2017 wire format (for a 2017 function)
      --endpoint <host:port>  call this address, bypassing discovery
      --json             print {"ok":true,"result":…} or {"ok":false,"error":{…}} on standard output
  -f, --file <path>      the funker.yml whose runtime to use
  -h, --help             this help`,

  new: `Usage: funker new <name> [options]

Scaffolds a TypeScript function: src/<name>.ts (the plain function),
src/handler.ts (serves it), src/<name>.test.ts (tests it directly and over
the protocol), package.json, tsconfig.json, Dockerfile and README.md, and
adds it to funker.yml (created when there is none).

Options:
  -d, --dir <path>   where to create it (default: ./<name>)
  -f, --file <path>  the funker.yml to add it to (default: the nearest one, else ./funker.yml)
  -h, --help         this help`,

  ls: `Usage: funker ls [options]

Lists the functions of funker.yml: mode, replicas, entry, and where each
listens when \`funker dev\` runs.

Options:
      --json         print JSON
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,

  status: `Usage: funker status [options]

Shows each replica of the running \`funker dev\`: its port and process,
whether it is starting, idle, busy or backing off, calls served and failed,
restarts, and its last error. Exits 3 when no runtime runs.

Options:
      --json         print JSON
  -f, --file <path>  the funker.yml whose runtime to show
  -h, --help         this help`,

  ...DOCKER_HELP,
} as const;

export type Verb = keyof typeof HELP;
