/** A command line that cannot be understood; `funker` prints its message and exits with code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * Reads `key=value` arguments into an object, as `dapr invoke --data` and
 * `faas-cli invoke` users expect: a value that parses as JSON is that JSON
 * (`x=1` is the number 1, `ok=true` a boolean, `tags=["a"]` an array),
 * anything else is the string as written (`name=Ada`). Quote to force a
 * string: `id='"42"'`.
 */
export function parseKeyValueArguments(words: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals <= 0) {
      throw new UsageError(
        equals === 0
          ? `argument "${word}" has no name before "="`
          : `argument "${word}" is not key=value (use --data '{"…": …}' for other JSON)`,
      );
    }
    const key = word.slice(0, equals);
    if (Object.hasOwn(args, key)) throw new UsageError(`argument "${key}" is given twice`);
    args[key] = parseValue(word.slice(equals + 1));
  }
  return args;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Parses `--data` (or standard input) as JSON, with a message that says where it broke. */
export function parseJsonArguments(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}
