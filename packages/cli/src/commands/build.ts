import { buildImages } from "../docker/actions.js";
import { ExitCode } from "../exit-code.js";
import { defineCommand } from "./command.js";
import { checkFunctionNames, dockerFailure } from "./docker-support.js";

/** `funker build`: bundles functions and builds their images (src/docker/). */
export const build = defineCommand({
  name: "build",
  synopsis: "build [name…]",
  summary: "bundle functions and build their Docker images",
  help: `Usage: funker build [name…] [options]

Bundles each function of funker.yml (or only those named) into one file with
its dependencies and builds its image (the function's \`image\`, default
<name>:latest) on node:20-bookworm-slim: the bundle, run as the node user,
port 9999. A function with its own \`dockerfile\` is built from that file's
folder instead. Build contexts are kept in .funker/image/<name>/.

Options:
      --verbose      show Docker's build output
  -f, --file <path>  the funker.yml to use
  -h, --help         this help`,
  options: { verbose: { type: "boolean" } },
  async run({ values, positionals }, context) {
    const config = context.loadConfig(values.file);
    checkFunctionNames(config, positionals);
    const outcome = await buildImages(config, { only: positionals, output: context.stderr, verbose: values.verbose === true });
    return outcome.ok ? ExitCode.ok : dockerFailure(context, "build", outcome.message);
  },
});
