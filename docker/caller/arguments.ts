/** A command line that cannot be understood: the tool prints its message on one line and exits with code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * `key=value` words into an object, as `funker call` reads them: a value
 * that parses as JSON is that JSON (`x=1` is a number), anything else is the
 * string as written (`name=Ada`). Keys become own properties, `__proto__`
 * included, so a word can never change the object's prototype.
 */
export function parseKeyValues(words: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals <= 0) throw new UsageError(`argument "${word}" is not key=value (use --data '{"…": …}' for other JSON)`);
    const key = word.slice(0, equals);
    if (Object.hasOwn(args, key)) throw new UsageError(`argument "${key}" is given twice`);
    const text = word.slice(equals + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    Object.defineProperty(args, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return args;
}

/**
 * Splits `--name value` options from positional words; flags listed in
 * `booleans` take no value. With `valueOptions`, any other option is refused
 * (else it would take the next word as its value).
 */
export function splitOptions(
  words: readonly string[],
  booleans: readonly string[] = [],
  valueOptions?: readonly string[],
): { options: Map<string, string>; positionals: string[] } {
  const options = new Map<string, string>();
  const positionals: string[] = [];
  for (let index = 0; index < words.length; index += 1) {
    const word = words[index] ?? "";
    if (!word.startsWith("--")) {
      positionals.push(word);
      continue;
    }
    const name = word.slice(2);
    if (booleans.includes(name)) options.set(name, "true");
    else if (valueOptions !== undefined && !valueOptions.includes(name)) throw new UsageError(`unknown option ${word}`);
    else {
      const value = words[index + 1];
      if (value === undefined) throw new UsageError(`${word} needs a value`);
      options.set(name, value);
      index += 1;
    }
  }
  return { options, positionals };
}
