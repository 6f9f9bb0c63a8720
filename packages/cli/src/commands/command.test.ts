import { describe, expect, it } from "vitest";
import { parseDuration } from "@funker/handler/contract";
import { durationFlag, parseCommandLine, UsageError } from "./command.js";
import { deploy } from "./deploy.js";
import { dev } from "./dev.js";

describe("durations", () => {
  it("reads units and bare milliseconds", () => {
    expect([parseDuration("500ms"), parseDuration("30s"), parseDuration("2m"), parseDuration("1h"), parseDuration("1m30s"), parseDuration(250), parseDuration("250")]).toEqual([
      500, 30_000, 120_000, 3_600_000, 90_000, 250, 250,
    ]);
    expect([parseDuration("soon"), parseDuration("5 s"), parseDuration(-1), parseDuration("s")]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe("duration flags", () => {
  it("read the handler's grammar, combined units included", () => {
    expect([durationFlag("timeout", "5s", "5s"), durationFlag("timeout", "1m30s", "5s"), durationFlag("timeout", undefined, "5s")]).toEqual([5_000, 90_000, undefined]);
  });

  it.each(["0", "0s", "5 s", "soon", "-1s"])("refuse %o, where no wait makes sense", (value) => {
    expect(() => durationFlag("ready-timeout", value, "30s")).toThrow(new UsageError(`--ready-timeout "${value}" is not a duration such as 30s`));
  });
});

describe("the argument parser", () => {
  it("gives a command its own options, --file and --help, and the words after -- when it takes a command", () => {
    const input = parseCommandLine(dev, ["--keep", "-f", "x.yml", "--", "node", "app.js", "--port", "1"]);
    expect(input.values).toMatchObject({ keep: true, file: "x.yml" });
    expect(input.positionals).toEqual([]);
    expect(input.rest).toEqual(["node", "app.js", "--port", "1"]);
    expect(parseCommandLine(dev, ["--keep"]).rest).toBeUndefined();
  });

  it("refuses an unknown option as a usage error, without Node's advice about positionals", () => {
    expect(() => parseCommandLine(dev, ["--colour"])).toThrow(UsageError);
    expect(() => parseCommandLine(dev, ["--colour"])).toThrow(/^Unknown option '--colour'$/);
  });
});

describe("funker deploy's wait", () => {
  const context = {
    stdout: { write: () => true },
    stderr: { write: () => true },
    loadConfig: (): never => {
      throw new Error("the command line should have been refused before funker.yml is read");
    },
  };
  const run = (args: string[]): Promise<number> => Promise.resolve(deploy.run(parseCommandLine(deploy, args), context));

  it("takes --wait-timeout in the handler's grammar, and refuses it with --no-wait or as no wait at all", async () => {
    await expect(run(["--no-wait", "--wait-timeout", "5m"])).rejects.toThrow(new UsageError("--no-wait and --wait-timeout contradict each other: give one"));
    await expect(run(["--wait-timeout", "0s"])).rejects.toThrow(new UsageError('--wait-timeout "0s" is not a duration such as 5m'));
    await expect(run(["--wait-timeout", "5m"])).rejects.toThrow(/before funker.yml is read/);
  });
});
