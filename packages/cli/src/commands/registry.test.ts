import { describe, expect, it } from "vitest";
import { call } from "./call.js";
import { ls } from "./ls.js";
import { COMMANDS, findCommand, FUNKER_HELP, HELP } from "./registry.js";

describe("the command registry", () => {
  it("gives every command a name and aliases no other command has", () => {
    const words = COMMANDS.flatMap((command) => [command.name, ...(command.aliases ?? [])]);
    expect(new Set(words).size).toBe(words.length);
  });

  it("finds a command by its name or an alias", () => {
    expect(findCommand("call")).toBe(call);
    expect(findCommand("invoke")).toBe(call);
    expect(findCommand("list")).toBe(ls);
    expect(findCommand("funker")).toBeUndefined();
  });

  it("lists every command in funker --help, with its summary, in the registry's order", () => {
    const listed = FUNKER_HELP.split("\n").filter((line) => /^ {2}[a-z]/.test(line) && !line.trimStart().startsWith("-"));
    expect(listed).toEqual(COMMANDS.map((command) => `  ${command.synopsis.padEnd(28)}${command.summary}`));
  });

  it("holds the help of funker and of each command, by name", () => {
    expect(Object.keys(HELP)).toEqual(["funker", ...COMMANDS.map((command) => command.name)]);
    for (const command of COMMANDS) expect(HELP[command.name]).toMatch(new RegExp(`^Usage: funker ${command.name}\\b`));
  });
});
