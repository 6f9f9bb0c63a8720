import type { FunkerConfig } from "../config/funker-yml.js";
import { ExitCode } from "../exit-code.js";
import type { CommandContext } from "./command.js";
import { UsageError } from "./command.js";

/** What the Docker verbs share: a failed step is reported as `funker <verb>: <message>`, exit code 1. */
export function dockerFailure(context: CommandContext, verb: string, message: string): number {
  context.stderr.write(`funker ${verb}: ${message}\n`);
  return ExitCode.failed;
}

/**
 * Refuses names funker.yml does not have, listing those it has: functions,
 * and with `services` the services of `services:` too (which `deploy` and
 * `rm` handle, and `build` does not).
 */
export function checkFunctionNames(config: FunkerConfig, names: readonly string[], options: { services?: boolean } = {}): void {
  const known = [...config.functions, ...(options.services === true ? config.services : [])].map((spec) => spec.name);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) {
    const what = options.services === true && config.services.length > 0 ? "function or service" : "function";
    throw new UsageError(`no ${what} ${unknown.map((name) => `"${name}"`).join(", ")} in funker.yml (${what === "function" ? "functions" : "functions and services"}: ${known.join(", ")})`);
  }
}
