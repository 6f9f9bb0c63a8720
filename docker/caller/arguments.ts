/**
 * `key=value` words into an object, as `funker call` reads them: a value
 * that parses as JSON is that JSON (`x=1` is a number), anything else is the
 * string as written (`name=Ada`).
 */
export function parseKeyValues(words: readonly string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const word of words) {
    const equals = word.indexOf("=");
    if (equals <= 0) throw new Error(`argument "${word}" is not key=value (use --data '{"…": …}' for other JSON)`);
    const text = word.slice(equals + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    args[word.slice(0, equals)] = value;
  }
  return args;
}

/** Splits `--name value` options from positional words; flags listed in `booleans` take no value. */
export function splitOptions(words: readonly string[], booleans: readonly string[] = []): { options: Map<string, string>; positionals: string[] } {
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
    else {
      const value = words[index + 1];
      if (value === undefined) throw new Error(`${word} needs a value`);
      options.set(name, value);
      index += 1;
    }
  }
  return { options, positionals };
}
