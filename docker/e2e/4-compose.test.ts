import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig, composeFile, runDocker } from "../../packages/cli/src/internal.js";
import { callerRun, images, report, runId, waitFor } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));

function compose(args: readonly string[], file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runDocker(["-p", runId(), "-f", file, ...args], { program: "docker-compose" });
}

// Plain Compose (docker-compose 1.29), no Swarm: the generated file brought
// up, each function called from a caller container on the file's bridge
// network, and everything taken down again.
describe("plain Compose from the generated file", () => {
  const folder = mkdtempSync(join(tmpdir(), "funker-compose-"));
  const file = join(folder, "docker-compose.yml");
  const network = `${runId()}-bridge`;
  const add = `${runId()}-add`;
  const markdown = `${runId()}-markdown`;
  const started = Date.now();

  afterAll(async () => {
    await compose(["down", "--timeout", "5"], file);
    rmSync(folder, { recursive: true, force: true });
    report("compose", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  it("brings the examples up, answers calls (single-shot served as fresh), and takes them down", async () => {
    const config = parseConfig(
      `version: 1
name: ${runId()}
functions:
  ${add}: { entry: examples/add, replicas: 2, timeout: 5s }
  ${markdown}: { entry: examples/markdown, timeout: 10s }
`,
      join(repository, "funker.yml"),
    );
    const imageOf: Record<string, string> = { [add]: images().add, [markdown]: images().markdown };
    const text = composeFile(config, { network, imageFor: (spec) => imageOf[spec.name] ?? spec.image });
    expect(text).toContain(`      FUNKER_MODE: "fresh"`);
    writeFileSync(file, text);
    const up = await compose(["up", "--detach"], file);
    expect(up.code, up.stderr).toBe(0);
    await waitFor("three running containers", async () => {
      const listed = await compose(["ps", "--quiet"], file);
      return listed.stdout.trim().split("\n").filter((line) => line !== "").length === 3 ? true : undefined;
    });

    for (let round = 0; round < 3; round += 1) {
      expect(await callerRun(network, ["call", add, "x=1", "y=2"])).toMatchObject({ code: 0, stdout: "3\n" });
    }
    // Fresh: each call was served by a process its replica started, and no container exited for it.
    const containers = (await compose(["ps", "--quiet", add], file)).stdout.trim().split("\n");
    expect(containers).toHaveLength(2);
    for (const id of containers) expect((await runDocker(["inspect", "--format", "{{.RestartCount}}", id])).stdout.trim()).toBe("0");
    const rendered = await callerRun(network, ["call", markdown, "markdown=**hi** <b>x</b>"]);
    expect(rendered).toMatchObject({ code: 0, stdout: `${JSON.stringify("<p><strong>hi</strong> &#60;b&#62;x&#60;/b&#62;</p>\n")}\n` });

    const down = await compose(["down", "--timeout", "5"], file);
    expect(down.code, down.stderr).toBe(0);
    expect((await runDocker(["network", "inspect", network])).code).not.toBe(0);
  });
});
