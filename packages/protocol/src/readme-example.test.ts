import { readFileSync } from "node:fs";
import ts from "typescript";
import { expect, it } from "vitest";
import * as protocol from "@funker/protocol";

// Runs the README's example exactly as written, so it cannot go stale: the
// TypeScript block is transpiled, its import of @funker/protocol is bound to
// this package's source, and what it logs is compared with what it promises.

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

function exampleCode(): string {
  const match = /```ts\n([\s\S]*?)```/.exec(readme);
  if (match?.[1] === undefined) throw new Error("README.md has no ```ts block");
  return match[1];
}

it("the README example runs and prints what it says", async () => {
  const source = exampleCode();
  const importLine = /^import \{([^}]*)\} from "@funker\/protocol";\n/m;
  const imported = importLine.exec(source);
  expect(imported).not.toBeNull();
  const body = ts.transpileModule(source.replace(importLine, ""), {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  const names = (imported?.[1] ?? "").split(",").map((name) => name.trim());
  const lines: string[] = [];
  const console = { log: (...values: unknown[]) => lines.push(values.map(String).join(" ")) };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...parameters: string[]) => (...values: unknown[]) => Promise<void>;
  const bindings = names.map((name) => (protocol as Record<string, unknown>)[name]);
  for (const [index, binding] of bindings.entries()) expect(binding, names[index]).toBeDefined();
  await new AsyncFunction(...names, "console", body)(...bindings, console);
  const promised = [...source.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((match) => match[1]);
  expect(lines).toEqual(promised);
  expect(lines).toEqual(["add 3"]);
});
