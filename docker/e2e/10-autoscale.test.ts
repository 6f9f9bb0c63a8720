import { afterAll, describe, expect, it } from "vitest";
import { Autoscaler } from "../../packages/autoscaler/src/index.js";
import { docker, images, removeServices, runId, TEST_LABEL } from "./support.js";

// The autoscaler's loop against the real engine, run in the test's process
// over the Docker socket. It manages only this run's services (their test
// label), never another function on the same engine. Replicas' status ports
// are on the overlay network, out of the host's reach: they count as
// starting here, which these tests do not depend on.
describe("funker autoscale against Swarm", () => {
  const bad = `${runId()}-asc-bad`;
  const low = `${runId()}-asc-low`;
  afterAll(() => removeServices([bad, low]));

  async function createFunction(name: string, replicas: number, scaleLabels: Record<string, string>): Promise<void> {
    const labels = Object.entries({ "io.funker.function": name, [TEST_LABEL]: runId(), ...scaleLabels }).flatMap(([key, value]) => ["--label", `${key}=${value}`]);
    await docker(["service", "create", "--detach", "--name", name, "--network", "funker", "--replicas", String(replicas), "--no-resolve-image", ...labels, images().add]);
  }

  async function replicasOf(name: string): Promise<number> {
    return Number((await docker(["service", "inspect", "--format", "{{.Spec.Mode.Replicated.Replicas}}", name])).trim());
  }

  function autoscaler(lines: Record<string, unknown>[]): Autoscaler {
    return new Autoscaler({ labels: [`${TEST_LABEL}=${runId()}`], log: (line) => lines.push(line) });
  }

  it("logs bad scale labels once, clearly, and leaves the service alone", async () => {
    await createFunction(bad, 1, { "io.funker.scale.min": "5", "io.funker.scale.max": "2" });
    const lines: Record<string, unknown>[] = [];
    const scaler = autoscaler(lines);
    await scaler.tick();
    await scaler.tick();
    expect(lines.filter((line) => line["service"] === bad)).toEqual([
      {
        level: "error",
        msg: "bad scale labels; service left alone",
        service: bad,
        code: "bad_scale_label",
        problem: "io.funker.scale.max (2) is below io.funker.scale.min (5)",
      },
    ]);
    expect(await replicasOf(bad)).toBe(1);
  });

  it("brings a function below its min up at once, with one log line, and decides nothing more while it starts", async () => {
    await createFunction(low, 1, { "io.funker.scale.min": "2", "io.funker.scale.max": "3", "io.funker.scale.idle-ms": "60000" });
    const lines: Record<string, unknown>[] = [];
    const scaler = autoscaler(lines);
    await scaler.tick();
    expect(await replicasOf(low)).toBe(2);
    await scaler.tick();
    await scaler.tick();
    expect(lines.filter((line) => line["service"] === low)).toEqual([
      expect.objectContaining({ level: "info", msg: "scaled", function: low, service: low, from: 1, to: 2, reason: "below min 2" }),
    ]);
    expect(await replicasOf(low)).toBe(2);
  });
});
