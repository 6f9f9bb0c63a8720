import { chmodSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { deployFunctions, parseConfig } from "../../packages/cli/src/internal.js";
import { callerRun, docker, dockerResult, dockerRunOn, images, parseLoadFigures, removeServices, report, runId, TEST_LABEL, waitFor } from "./support.js";

const repository = fileURLToPath(new URL("../..", import.meta.url));

const OLD_KEY = "old-key-0123456789abcdef";
const NEW_KEY = "new-key-fedcba9876543210";

// `funker deploy` of a stack with `secret:` on the real Swarm: signed calls
// from a caller that holds the key, refusals for callers that do not, and a
// rotation under load. Docker secrets cannot change, so a rotation is three
// deploys, each naming a new secret: add the new key second (the old one
// still signs), promote it first, retire the old one. Each deploy rolls the
// replicas one by one; at every moment any two neighbouring steps share the
// key that signs, so no call fails.
describe("signed calls on the Swarm", () => {
  const stack = `authcli${runId()}`;
  const name = `${stack}-add`;
  // An encrypted overlay network, made as docs/deploy.md says, before the first deploy; funker deploy then uses it.
  const network = `${stack}-net`;
  const secretName = (step: number): string => `${stack}-key-${step}`;
  const configFor = (step: number) =>
    parseConfig(
      `version: 1
name: ${stack}
network: ${network}
secret: ${secretName(step)}
functions:
  ${name}: { entry: examples/add, mode: reuse, replicas: 2, timeout: 5s }
`,
      join(repository, "funker.yml"),
    );
  const imageFor = (): string => images().add;
  const progress: string[] = [];
  const output = { write: (text: string) => progress.push(text) };
  // The caller's key file, in a folder mounted into caller containers: it stands for an app given the same secret.
  const keyFolder = mkdtempSync(join(tmpdir(), "authcli-keys-"));
  chmodSync(keyFolder, 0o755);
  const writeCallerKeys = (...keys: string[]): void => {
    const file = join(keyFolder, "funker-key");
    writeFileSync(`${file}.tmp`, `${keys.join("\n")}\n`, { mode: 0o644 });
    renameSync(`${file}.tmp`, file);
  };
  const withKeys = ["--rm", "--label", `${TEST_LABEL}=${runId()}`, "-v", `${keyFolder}:/keys:ro`, "-e", "FUNKER_SECRET_FILE=/keys/funker-key"];
  const created: string[] = [];
  const createSecret = async (step: number, ...keys: string[]): Promise<void> => {
    await docker(["secret", "create", "--label", `${TEST_LABEL}=${runId()}`, secretName(step), "-"], { input: `${keys.join("\n")}\n` });
    created.push(secretName(step));
  };
  /** Deploys step `step`'s secret and waits until the rolling update has replaced every replica. */
  const deployStep = async (step: number): Promise<void> => {
    const outcome = await deployFunctions(configFor(step), { output, imageFor });
    expect(outcome.ok, progress.join("")).toBe(true);
    await waitFor(`the update to ${secretName(step)} to complete`, async () => {
      const state = (await docker(["service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}", name])).trim();
      return state === "" || state === "completed" ? true : undefined;
    }, 120_000);
  };
  const started = Date.now();

  afterAll(async () => {
    await removeServices([name]);
    await dockerResult(["network", "rm", network]);
    for (const secret of created) await dockerResult(["secret", "rm", secret]);
    rmSync(keyFolder, { recursive: true, force: true });
    report("secret", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  it("runs calls signed with the stack's key, and refuses unsigned calls and calls signed with another key", { timeout: 300_000 }, async () => {
    await docker(["network", "create", "--driver", "overlay", "--attachable", "--opt", "encrypted", "--label", `${TEST_LABEL}=${runId()}`, network]);
    expect(JSON.parse(await docker(["network", "inspect", "--format", "{{json .Options}}", network]))).toHaveProperty("encrypted");
    await createSecret(1, OLD_KEY);
    writeCallerKeys(OLD_KEY);
    await deployStep(1);

    const spec = JSON.parse(await docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", name])) as { Env: string[]; Secrets: { SecretName: string }[] };
    expect(spec.Env).toContain(`FUNKER_SECRET_FILE=/run/secrets/${secretName(1)}`);
    expect(spec.Secrets.map((secret) => secret.SecretName)).toEqual([secretName(1)]);

    expect(await dockerRunOn(network, [...withKeys, images().caller, "call", name, "x=1", "y=2"])).toMatchObject({ code: 0, stdout: "3\n" });
    const unsigned = await callerRun(network, ["call", name, "x=1", "y=2"]);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toMatch(/unauthenticated/);
    const wrongKey = await dockerRunOn(network, ["--rm", "--label", `${TEST_LABEL}=${runId()}`, "-e", "FUNKER_SECRET=wrong-key-0123456789abcdef", images().caller, "call", name, "x=1", "y=2"]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(/unauthenticated/);
  });

  // Three rolling updates under a load that outlasts them.
  it("rotates the key by deploying new secrets under load, without a failed call", { timeout: 480_000 }, async () => {
    await createSecret(2, OLD_KEY, NEW_KEY);
    await createSecret(3, NEW_KEY, OLD_KEY);
    await createSecret(4, NEW_KEY);
    // Each deploy rolls two replicas one by one: about 50 s a step on the shared test machine, 162 s for the three.
    const seconds = 240;
    const loadStarted = Date.now();
    const load = dockerRunOn(network, [...withKeys, images().caller, "funker-load", name, "x=1", "y=2", "--expect", "3", "--seconds", String(seconds), "--concurrency", "4", "--json"]);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    for (const [step, keys] of [[2, [OLD_KEY, NEW_KEY]], [3, [NEW_KEY, OLD_KEY]], [4, [NEW_KEY]]] as const) {
      await deployStep(step);
      // The caller follows once every replica has the step's keys, as an app deployed in the same step would.
      writeCallerKeys(...keys);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    const rotatedWithinMs = Date.now() - loadStarted;
    const result = await load;
    expect(result.code, result.stderr).toBe(0);
    const figures = parseLoadFigures(result.stdout);
    report("secret rotation", { calls: figures.calls, ok: figures.ok, failures: figures.failures, rotationSeconds: Math.round(rotatedWithinMs / 1000) });
    // The whole rotation happened while the load ran.
    expect(rotatedWithinMs).toBeLessThan(seconds * 1000);
    expect(figures.failures).toEqual({});
    expect(figures.wrong).toBe(0);
    expect(figures.ok).toBeGreaterThan(0);

    const spec = JSON.parse(await docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec}}", name])) as { Env: string[]; Secrets: { SecretName: string }[] };
    expect(spec.Secrets.map((secret) => secret.SecretName)).toEqual([secretName(4)]);
    // The old key is retired: a caller that still signs with it is refused.
    const oldKey = await dockerRunOn(network, ["--rm", "--label", `${TEST_LABEL}=${runId()}`, "-e", `FUNKER_SECRET=${OLD_KEY}`, images().caller, "call", name, "x=1", "y=2"]);
    expect(oldKey.code).toBe(1);
    expect(oldKey.stderr).toMatch(/unauthenticated/);
  });
});
