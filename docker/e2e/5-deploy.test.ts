import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig, deployFunctions, removeFunctions } from "../../packages/cli/src/internal.js";
import { callerRun, docker, images, removeServices, report, runId } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));

// `funker deploy` of the examples' stack, then a call to every function from
// a caller container, a second deploy (an update), and `funker rm`.
describe("funker deploy and funker rm on the Swarm", () => {
  const names = { add: `${runId()}-add2`, markdown: `${runId()}-markdown`, addJs: `${runId()}-add-js` };
  const config = parseConfig(
    `version: 1
name: ${runId()}
functions:
  ${names.add}: { entry: examples/add, replicas: 2, timeout: 5s }
  ${names.markdown}: { entry: examples/markdown, timeout: 10s }
  ${names.addJs}: { entry: examples/add-js/handler.js, dockerfile: examples/add-js/Dockerfile }
`,
    join(repository, "funker.yml"),
  );
  const imageOf: Record<string, string> = { [names.add]: images().add, [names.markdown]: images().markdown, [names.addJs]: images().addJs };
  const imageFor = (spec: { name: string; image: string }): string => imageOf[spec.name] ?? spec.image;
  const progress: string[] = [];
  const output = { write: (text: string) => progress.push(text) };
  const started = Date.now();

  afterAll(async () => {
    await removeServices(Object.values(names));
    report("deploy", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  it("creates a service per function, each answering calls from a caller container", async () => {
    const outcome = await deployFunctions(config, { output, imageFor });
    expect(outcome, progress.join("")).toEqual({ ok: true, created: Object.values(names), updated: [] });
    expect(await callerRun("funker", ["call", names.add, "x=1", "y=2"])).toMatchObject({ code: 0, stdout: "3\n" });
    expect(await callerRun("funker", ["call", names.addJs, "x=1", "y=2"])).toMatchObject({ code: 0, stdout: "3\n" });
    expect(await callerRun("funker", ["call", names.markdown, "markdown=# Hi"])).toMatchObject({ code: 0, stdout: `${JSON.stringify("<h1>Hi</h1>\n")}\n` });

    const spec = JSON.parse(await docker(["service", "inspect", "--format", "{{json .Spec}}", names.add])) as {
      Labels: Record<string, string>;
      TaskTemplate: { RestartPolicy: { Condition: string; Delay: number }; ContainerSpec: { Init: boolean; StopGracePeriod: number } };
      EndpointSpec: { Mode: string };
    };
    expect(spec.Labels).toMatchObject({ "io.funker.function": names.add, "io.funker.stack": runId(), "io.funker.mode": "single-shot" });
    expect(spec.TaskTemplate.RestartPolicy).toMatchObject({ Condition: "any", Delay: 0 });
    expect(spec.TaskTemplate.ContainerSpec).toMatchObject({ Init: true, StopGracePeriod: 10_000_000_000 });
    expect(spec.EndpointSpec.Mode).toBe("dnsrr");
  });

  it("updates the services on a second deploy, and removes the stack's services with funker rm", async () => {
    const again = await deployFunctions(config, { output, imageFor, only: [names.add] });
    expect(again, progress.join("")).toEqual({ ok: true, created: [], updated: [names.add] });
    expect(await callerRun("funker", ["call", names.add, "x=2", "y=3"])).toMatchObject({ code: 0, stdout: "5\n" });

    // funker logs, with no funker dev running beside this stack's funker.yml, reads docker service logs.
    const folder = mkdtempSync(join(tmpdir(), "funker-logs-"));
    try {
      writeFileSync(join(folder, "funker.yml"), `version: 1\nname: ${runId()}\nfunctions:\n  ${names.add}: { entry: ${join(repository, "examples/add")} }\n`);
      const shown = spawnSync(process.execPath, [join(repository, "packages/cli/dist/bin.js"), "logs", names.add, "-f", join(folder, "funker.yml")], { encoding: "utf8", timeout: 60_000 });
      expect(shown.status, shown.stderr).toBe(0);
      // Docker prefixes each line with its task (add2.1.<task>@<node> |); the handler logs one JSON line per call.
      const callLines = `${shown.stdout}${shown.stderr}`.split("\n").filter((line) => line.startsWith(`${names.add}.`) && line.includes('"msg":"call"'));
      expect(callLines.length, `${shown.stdout}${shown.stderr}`).toBeGreaterThanOrEqual(1);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }

    const removed = await removeFunctions(config, { output });
    expect(removed.ok && [...removed.removed].sort()).toEqual(Object.values(names).sort());
    const left = await docker(["service", "ls", "--filter", `label=io.funker.stack=${runId()}`, "--format", "{{.Name}}"]);
    expect(left.trim()).toBe("");
  });
});
