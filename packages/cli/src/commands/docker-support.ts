import type { FunkerConfig } from "../config/funker-yml.js";
import { ExitCode } from "../exit-code.js";
import type { CommandContext } from "./command.js";
import { UsageError } from "./command.js";

/** What the Docker verbs share: a failed step is reported as `funker <verb>: <message>`, exit code 1. */
export function dockerFailure(context: CommandContext, verb: string, message: string): number {
  context.stderr.write(`funker ${verb}: ${message}\n`);
  return ExitCode.failed;
}

/** Refuses function names funker.yml does not have, listing those it has. */
export function checkFunctionNames(config: FunkerConfig, names: readonly string[]): void {
  const unknown = names.filter((name) => !config.functions.some((spec) => spec.name === name));
  if (unknown.length > 0) {
    const known = config.functions.map((spec) => spec.name).join(", ");
    throw new UsageError(`no function ${unknown.map((name) => `"${name}"`).join(", ")} in funker.yml (functions: ${known})`);
  }
}
