import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig } from "../config/funker-yml.js";
import { composeFile } from "./compose.js";
import { functionDockerfile, planImageBuilds } from "./image.js";
import { parseReplicas, parseUpdateStatus, watchRollout } from "./rollout.js";
import type { RolloutWatch, UpdateStatus } from "./rollout.js";
import { autoscalerCreateArgs, autoscalerUpdateArgs, backingServiceCreateArgs, backingServiceUpdateArgs, functionEnvironment, serviceCreateArgs, serviceUpdateArgs, stopGracePeriodMs, volumeName } from "./service.js";

const root = mkdtempSync(join(tmpdir(), "funker-docker-plans-"));
mkdirSync(join(root, "fns/add/src"), { recursive: true });
writeFileSync(join(root, "fns/add/package.json"), "{}");
writeFileSync(join(root, "fns/add/src/handler.ts"), "");
mkdirSync(join(root, "fns/js"), { recursive: true });
writeFileSync(join(root, "fns/js/handler.js"), "");
writeFileSync(join(root, "fns/js/Dockerfile"), "FROM funker/handler-node\nCOPY handler.js .\n");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const config = parseConfig(
  `version: 1
name: shop
functions:
  add:
    entry: fns/add
    image: funker/add:1.0
    replicas: 2
    timeout: 30s
    environment: { LOG_LEVEL: debug }
    secrets: [db-password]
    scale: { min: 1, max: 8, idle: 5m, warm: 1 }
  counter:
    entry: fns/add
    mode: reuse
    volumes: ["votes:/data/votes", "/srv/config:/config:ro"]
    concurrency: 4
    maxCalls: 1000
    endpointMode: vip
  js:
    entry: fns/js/handler.js
    dockerfile: fns/js/Dockerfile
    volumes: ["votes:/votes:ro"]
`,
  join(root, "funker.yml"),
);
const [add, counter, js] = config.functions;
if (add === undefined || counter === undefined || js === undefined) throw new Error("three functions expected");

/** The values that follow each occurrence of `flag` in an argument list. */
function valuesOf(args: readonly string[], flag: string): string[] {
  return args.flatMap((arg, index) => (arg === flag ? [args[index + 1] ?? ""] : []));
}

describe("image builds", () => {
  it("bundle a function into its own small context and build it with Funker's Dockerfile", () => {
    const [step] = planImageBuilds(config, { only: ["add"] });
    expect(step).toMatchObject({ function: "add", image: "funker/add:1.0", bundleEntry: join(root, "fns/add/src/handler.ts"), context: join(root, ".funker/image/add") });
    expect(step?.dockerArgs).toEqual([
      "build", "--tag", "funker/add:1.0", "--label", "io.funker.function=add", "--label", "io.funker.stack=shop",
      "--file", join(root, ".funker/image/add/Dockerfile"), join(root, ".funker/image/add"),
    ]);
  });

  it("create each volume target in the image as root, owned by node, so an empty named volume takes that ownership", () => {
    const [plain, counterStep] = planImageBuilds(config, { only: ["add", "counter"] });
    expect(plain?.dockerfileText).not.toMatch(/^RUN /m);
    const dockerfile = counterStep?.dockerfileText ?? "";
    expect(dockerfile).toMatch(/^RUN mkdir -p '\/data\/votes' '\/config' && chown node:node '\/data\/votes' '\/config'$/m);
    // As root: the base image ends as node, who cannot make a folder at /.
    expect(dockerfile.indexOf("USER root")).toBeGreaterThan(-1);
    expect(dockerfile.indexOf("USER root")).toBeLessThan(dockerfile.indexOf("RUN mkdir"));
    expect(dockerfile.indexOf("RUN mkdir")).toBeLessThan(dockerfile.indexOf("USER node"));
    expect(functionDockerfile(undefined, ["/it's"])).toMatch(/^RUN mkdir -p '\/it'\\''s' && /m);
  });

  it("build a function with its own Dockerfile from that file's folder, without bundling", () => {
    const [step] = planImageBuilds(config, { only: ["js"], imageFor: (spec) => `test/${spec.name}:x` });
    expect(step).toMatchObject({ image: "test/js:x", bundleEntry: undefined, context: join(root, "fns/js"), dockerfileText: undefined });
    expect(step?.dockerArgs.slice(-3)).toEqual(["--file", join(root, "fns/js/Dockerfile"), join(root, "fns/js")]);
  });

  it("refuse names funker.yml does not have", () => {
    expect(() => planImageBuilds(config, { only: ["nope"] })).toThrow(/no function "nope"/);
  });

  it("run the bundle as the node user on port 9999 with SIGTERM, and no health check", () => {
    const dockerfile = functionDockerfile();
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^EXPOSE 9999$/m);
    expect(dockerfile).toMatch(/^STOPSIGNAL SIGTERM$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "handler.mjs"\]$/m);
    expect(dockerfile).not.toMatch(/HEALTHCHECK/);
  });
});

describe("Swarm services", () => {
  it("restart single-shot replicas at once, and wait past the longest call before SIGKILL", () => {
    const args = serviceCreateArgs(config, add);
    expect(valuesOf(args, "--name")).toEqual(["add"]);
    expect(valuesOf(args, "--network")).toEqual(["funker"]);
    expect(valuesOf(args, "--endpoint-mode")).toEqual(["dnsrr"]);
    expect(valuesOf(args, "--replicas")).toEqual(["2"]);
    expect(valuesOf(args, "--restart-condition")).toEqual(["any"]);
    expect(valuesOf(args, "--endpoint-mode")).toEqual(["dnsrr"]);
    expect(valuesOf(args, "--restart-delay")).toEqual(["0s"]);
    expect(valuesOf(args, "--stop-grace-period")).toEqual(["35s"]);
    expect(args).toContain("--init");
    expect(args).toContain("--no-resolve-image");
    expect(args.at(-1)).toBe("funker/add:1.0");
    const aliased = serviceCreateArgs(config, add, { networkAliases: ["sum", "plus"] });
    expect(valuesOf(aliased, "--network")).toEqual(["name=funker,alias=sum,alias=plus"]);
  });

  it("pass funker.yml's settings as the handler's variables, the status port to scaled functions, and the function's own after them", () => {
    const args = serviceCreateArgs(config, add);
    expect(valuesOf(args, "--env")).toEqual(["FUNKER_FUNCTION=add", "FUNKER_MODE=single-shot", "FUNKER_TIMEOUT=30000ms", "FUNKER_STATUS_PORT=9998", "LOG_LEVEL=debug"]);
    expect(valuesOf(args, "--secret")).toEqual(["db-password"]);
    expect(functionEnvironment(counter)).toEqual({ FUNKER_FUNCTION: "counter", FUNKER_MODE: "reuse", FUNKER_CONCURRENCY: "4", FUNKER_MAX_CALLS: "1000" });
  });

  it("label each service for the autoscaler and for docker stack", () => {
    expect(valuesOf(serviceCreateArgs(config, add), "--label")).toEqual([
      "io.funker.function=add",
      "io.funker.stack=shop",
      "io.funker.mode=single-shot",
      "io.funker.timeout-ms=30000",
      "com.docker.stack.namespace=shop",
      "io.funker.scale.min=1",
      "io.funker.scale.max=8",
      "io.funker.scale.idle-ms=300000",
      "io.funker.scale.warm=1",
    ]);
  });

  it("give reuse-mode replicas a restart pause, the endpoint mode asked for, and the handler's default timeout plus a margin", () => {
    const args = serviceCreateArgs(config, counter);
    expect(valuesOf(args, "--restart-delay")).toEqual(["1s"]);
    expect(valuesOf(args, "--endpoint-mode")).toEqual(["vip"]);
    expect(stopGracePeriodMs(counter)).toBe(65_000);
  });

  it("give fresh replicas their settings, a restart pause (their container exits only when it fails) and their labels", () => {
    const fresh = parseConfig(
      `version: 1\nname: shop\nfunctions:\n  token:\n    entry: fns/add\n    mode: fresh\n    concurrency: 3\n    heapLimitMb: 128\n`,
      join(root, "funker.yml"),
    ).functions[0];
    if (fresh === undefined) throw new Error("no function");
    const args = serviceCreateArgs(config, fresh);
    expect(valuesOf(args, "--env")).toEqual(["FUNKER_FUNCTION=token", "FUNKER_MODE=fresh", "FUNKER_CONCURRENCY=3", "FUNKER_HEAP_LIMIT_MB=128"]);
    expect(valuesOf(args, "--restart-delay")).toEqual(["1s"]);
    expect(valuesOf(args, "--label")).toEqual(expect.arrayContaining(["io.funker.mode=fresh", "io.funker.concurrency=3"]));
  });

  it("mount named volumes as <stack>_<name>, labelled with the stack, and host paths as bind mounts", () => {
    expect(valuesOf(serviceCreateArgs(config, add), "--mount")).toEqual([]);
    expect(valuesOf(serviceCreateArgs(config, counter), "--mount")).toEqual([
      "type=volume,source=shop_votes,target=/data/votes,volume-label=io.funker.stack=shop",
      "type=bind,source=/srv/config,target=/config,readonly",
    ]);
    expect(counter.volumes.map((volume) => volumeName(config, volume))).toEqual(["shop_votes", "/srv/config"]);
  });

  it("update mounts by target: replace those funker.yml lists, remove those it no longer lists", () => {
    const args = serviceUpdateArgs(config, counter, { previous: { environment: [], secrets: [], mounts: ["/old", "/config"] } });
    expect(valuesOf(args, "--mount-rm")).toEqual(["/old"]);
    expect(valuesOf(args, "--mount-add")).toEqual([
      "type=volume,source=shop_votes,target=/data/votes,volume-label=io.funker.stack=shop",
      "type=bind,source=/srv/config,target=/config,readonly",
    ]);
    expect(args.at(-1)).toBe("counter");
  });

  it("update in place: force new replicas, remove variables and secrets funker.yml no longer lists", () => {
    const args = serviceUpdateArgs(config, add, { previous: { environment: ["FUNKER_FUNCTION", "OLD"], secrets: ["old-secret", "db-password"] } });
    expect(args.slice(0, 4)).toEqual(["service", "update", "--detach", "--force"]);
    expect(valuesOf(args, "--image")).toEqual(["funker/add:1.0"]);
    expect(valuesOf(args, "--env-rm")).toEqual(["OLD"]);
    expect(valuesOf(args, "--secret-rm")).toEqual(["old-secret"]);
    expect(valuesOf(args, "--secret-add")).toEqual([]);
    expect(args.at(-1)).toBe("add");
  });
});

describe("rolling updates and rollbacks", () => {
  const functions = parseConfig(
    `version: 1\nname: shop\nfunctions:\n  once: { entry: fns/add }\n  kept: { entry: fns/add, mode: reuse }\n  limited: { entry: fns/add, mode: reuse, maxCalls: 50 }\n  token: { entry: fns/add, mode: fresh }\n`,
    join(root, "funker.yml"),
  ).functions;
  /** The update and rollback flags of a function's create and update arguments, which must agree. */
  function rolloutFlags(name: string): Record<string, string[]> {
    const spec = functions.find((candidate) => candidate.name === name);
    if (spec === undefined) throw new Error(`no function ${name}`);
    const flags = ["failure-action", "monitor", "max-failure-ratio", "order"].flatMap((flag) => [`--update-${flag}`, `--rollback-${flag}`]);
    const create = Object.fromEntries(flags.map((flag) => [flag, valuesOf(serviceCreateArgs(config, spec), flag)]));
    const update = Object.fromEntries(flags.map((flag) => [flag, valuesOf(serviceUpdateArgs(config, spec), flag)]));
    expect(update).toEqual(create);
    return create;
  }

  /** The flags a policy gives, the rollback's failure action always `continue`. */
  function policyFlags(failureAction: string, monitor: string): Record<string, string[]> {
    const policy = { "failure-action": failureAction, monitor, "max-failure-ratio": "0", order: "start-first" };
    return Object.fromEntries(
      Object.entries(policy).flatMap(([flag, value]) => [
        [`--update-${flag}`, [value]],
        [`--rollback-${flag}`, [flag === "failure-action" ? "continue" : value]],
      ]),
    );
  }

  it("continue past replicas that exit 0 by design (single-shot, reuse with maxCalls), which Swarm's monitor counts as failures", () => {
    expect(rolloutFlags("once")).toEqual(policyFlags("continue", "1s"));
    expect(rolloutFlags("limited")).toEqual(policyFlags("continue", "1s"));
  });

  it("roll back an update whose new replicas exit within 5 s when replicas exit only on failure (reuse, fresh)", () => {
    expect(rolloutFlags("kept")).toEqual(policyFlags("rollback", "5s"));
    expect(rolloutFlags("token")).toEqual(policyFlags("rollback", "5s"));
  });

  /** Feeds statuses one after the other, as polling sees them, and returns the last step. */
  function watch(before: UpdateStatus | undefined, ...statuses: (UpdateStatus | undefined)[]): RolloutWatch {
    let step: RolloutWatch | undefined;
    for (const status of statuses) step = watchRollout(status, before, step);
    if (step === undefined) throw new Error("no status");
    return step;
  }
  const previous = { State: "completed", StartedAt: "2026-12-02T09:39:56Z", Message: "update completed" };
  const ours = (State: string, Message: string): UpdateStatus => ({ State, Message, StartedAt: "2026-12-02T10:00:00Z" });

  it("wait for the update funker deploy started: not yet started, the previous update's status, updating, rolling back", () => {
    expect(watch(undefined, undefined)).toEqual({ kind: "waiting", what: "update not started yet" });
    expect(watch(previous, previous)).toEqual({ kind: "waiting", what: "update not started yet" });
    expect(watch(previous, ours("updating", "update in progress"))).toEqual({ kind: "waiting", what: "updating" });
    expect(watch(undefined, ours("rollback_started", "update rolled back due to failure or early termination of task t1"))).toMatchObject({ kind: "waiting", what: "rolling back" });
  });

  it("end the wait when the update completed; report a paused or rolled-back update with Swarm's own reason", () => {
    expect(watch(previous, undefined, ours("updating", "update in progress"), ours("completed", "update completed"))).toEqual({ kind: "done" });
    expect(watch(previous, ours("paused", "update paused due to failure or early termination of task t1"))).toEqual({
      kind: "failed",
      message: "Swarm paused the update: update paused due to failure or early termination of task t1",
    });
    // Swarm replaces the reason by "rollback completed" when the rollback ends: the reason seen while it ran is kept.
    expect(watch(previous, ours("rollback_started", "update rolled back due to failure or early termination of task t2"), ours("rollback_completed", "rollback completed"))).toEqual({
      kind: "failed",
      message: "Swarm rolled the update back, the previous spec runs again: update rolled back due to failure or early termination of task t2",
    });
    expect(watch(previous, ours("rollback_completed", "rollback completed"))).toMatchObject({ kind: "failed", message: expect.stringContaining("rollback completed") });
    expect(watch(previous, ours("rollback_paused", "rollback paused due to failure or early termination of task t3"))).toEqual({
      kind: "failed",
      message: "Swarm rolled the update back, and paused the rollback: rollback paused due to failure or early termination of task t3",
    });
  });

  it("read docker's update status and replica counts, waiting out answers they cannot trust", () => {
    expect(parseUpdateStatus('{"State":"updating","StartedAt":"2026-12-02T09:39:56.859542053Z","Message":"update in progress"}\n')).toEqual({
      State: "updating",
      StartedAt: "2026-12-02T09:39:56.859542053Z",
      Message: "update in progress",
    });
    expect(parseUpdateStatus("null\n")).toBeUndefined();
    expect(parseUpdateStatus("")).toBeUndefined();
    expect(parseUpdateStatus('{"State":7,"__proto__":{"State":"completed"}}')).toEqual({});
    expect(parseReplicas("shop-add 3/4\nshop 1/1\n", "shop")).toEqual({ running: 1, desired: 1 });
    expect(parseReplicas("add 2/3 (max 1 per node)\n", "add")).toEqual({ running: 2, desired: 3 });
    expect(parseReplicas("", "add")).toBeUndefined();
  });
});

describe("the compose file", () => {
  const text = composeFile(config, { imageFor: (spec) => `test/${spec.name}` });
  const document = parse(text) as {
    version: string;
    services: Record<string, Record<string, unknown> & { environment: Record<string, string>; labels: Record<string, string>; deploy: { replicas: number } }>;
    networks: Record<string, { name: string; driver: string }>;
    secrets: Record<string, { file: string }>;
    volumes: Record<string, { name: string; labels: Record<string, string> }>;
  };

  it("is YAML Compose reads: a service per function, on one bridge network", () => {
    expect(document.version).toBe("3.8");
    expect(Object.keys(document.services)).toEqual(["add", "counter", "js"]);
    expect(document.networks).toEqual({ "funker-bridge": { name: "funker-bridge", driver: "bridge" } });
    expect(document.services["add"]).toMatchObject({ image: "test/add", restart: "always", init: true, stop_grace_period: "35s", networks: ["funker-bridge"], deploy: { replicas: 2 } });
  });

  it("serves single-shot functions in fresh mode by default, and says why; reuse mode or single-shot when told", () => {
    expect(document.services["add"]?.environment).toMatchObject({ FUNKER_MODE: "fresh", FUNKER_TIMEOUT: "30000ms", LOG_LEVEL: "debug" });
    expect(document.services["add"]?.labels["io.funker.mode"]).toBe("fresh");
    expect(text).toMatch(/# single-shot in funker.yml, served in fresh mode here: still one process per call/);
    expect(text).toMatch(/doubling\n {4}# back-off, so a single-shot container would stall; a fresh one never exits/);
    // A function declared reuse stays reuse.
    expect(document.services["counter"]?.environment["FUNKER_MODE"]).toBe("reuse");
    const reused = parse(composeFile(config, { singleShot: "reuse" })) as typeof document;
    expect(reused.services["add"]?.environment["FUNKER_MODE"]).toBe("reuse");
    expect(reused.services["add"]?.labels["io.funker.mode"]).toBe("reuse");
    const kept = parse(composeFile(config, { singleShot: "keep" })) as typeof document;
    expect(kept.services["add"]?.environment["FUNKER_MODE"]).toBe("single-shot");
  });

  it("mounts the volumes as written, and declares each named volume once under the name funker deploy gives it", () => {
    expect(document.services["counter"]?.["volumes"]).toEqual(["votes:/data/votes", "/srv/config:/config:ro"]);
    expect(document.services["js"]?.["volumes"]).toEqual(["votes:/votes:ro"]);
    expect(document.services["add"]?.["volumes"]).toBeUndefined();
    expect(document.volumes).toEqual({ votes: { name: "shop_votes", labels: { "io.funker.stack": "shop" } } });
    const withoutVolumes = parse(composeFile({ ...config, functions: [add] })) as typeof document;
    expect(withoutVolumes.volumes).toBeUndefined();
  });

  it("declares each secret once, read from a file", () => {
    expect(document.services["add"]?.["secrets"]).toEqual(["db-password"]);
    expect(document.secrets).toEqual({ "db-password": { file: "./secrets/db-password" } });
  });
});

describe("signed calls", () => {
  const keyedText = `version: 1
name: shop
secret: funker-key
functions:
  add:
    entry: fns/add
    secrets: [db-password]
  pay:
    entry: fns/add
    secret: pay-key
services:
  web:
    image: funker/web
    port: 8080
    environment: { LEVEL: debug }
  db:
    image: postgres:15-bookworm
    port: 5432
`;
  const keyed = parseConfig(keyedText, join(root, "funker.yml"));
  const [keyedAdd, keyedPay] = keyed.functions;
  const [web] = keyed.services;
  if (keyedAdd === undefined || keyedPay === undefined || web === undefined) throw new Error("two functions and a service expected");
  const keyVariables = ["FUNKER_SECRET_FILE=/run/secrets/funker-key", "FUNKER_SECRET_FILES=pay=/run/secrets/pay-key"];

  it("mount every key secret into every function, beside its own secrets, and name the key files", () => {
    const args = serviceCreateArgs(keyed, keyedAdd);
    expect(valuesOf(args, "--secret")).toEqual(["db-password", "funker-key", "pay-key"]);
    expect(valuesOf(args, "--env")).toEqual(expect.arrayContaining(keyVariables));
    // pay's replicas verify with its own key: FUNKER_SECRET_FILES names it, and wins over FUNKER_SECRET_FILE.
    expect(valuesOf(serviceCreateArgs(keyed, keyedPay), "--secret")).toEqual(["funker-key", "pay-key"]);
    expect(valuesOf(serviceCreateArgs(keyed, keyedPay), "--env")).toEqual(expect.arrayContaining(keyVariables));
  });

  it("mount them into every service of services:, which call functions", () => {
    const args = backingServiceCreateArgs(keyed, web);
    expect(valuesOf(args, "--secret")).toEqual(["funker-key", "pay-key"]);
    expect(valuesOf(args, "--env")).toEqual([...keyVariables, "LEVEL=debug"]);
  });

  it("rotate by secret name: an update swaps the old key secret for the new one, and points the variable at it", () => {
    const rotated = parseConfig(keyedText.replace("secret: funker-key", "secret: funker-key-2"), join(root, "funker.yml"));
    const [rotatedAdd] = rotated.functions;
    const [rotatedWeb] = rotated.services;
    if (rotatedAdd === undefined || rotatedWeb === undefined) throw new Error("a function and a service expected");
    const args = serviceUpdateArgs(rotated, rotatedAdd, { previous: { environment: ["FUNKER_SECRET_FILE", "FUNKER_SECRET_FILES"], secrets: ["db-password", "funker-key", "pay-key"] } });
    expect(valuesOf(args, "--secret-rm")).toEqual(["funker-key"]);
    expect(valuesOf(args, "--secret-add")).toEqual(["funker-key-2"]);
    expect(valuesOf(args, "--env-add")).toContain("FUNKER_SECRET_FILE=/run/secrets/funker-key-2");
    const serviceArgs = backingServiceUpdateArgs(rotated, rotatedWeb, { previous: { environment: ["FUNKER_SECRET_FILE"], secrets: ["funker-key", "pay-key"] } });
    expect(valuesOf(serviceArgs, "--secret-rm")).toEqual(["funker-key"]);
    expect(valuesOf(serviceArgs, "--secret-add")).toEqual(["funker-key-2"]);
    expect(valuesOf(serviceArgs, "--env-add")).toContain("FUNKER_SECRET_FILE=/run/secrets/funker-key-2");
    // Dropping secret: removes the variables and the mounts.
    const unsigned = parseConfig("version: 1\nname: shop\nfunctions:\n  add: { entry: fns/add }\n", join(root, "funker.yml"));
    const dropped = serviceUpdateArgs(unsigned, unsigned.functions[0] as typeof keyedAdd, { previous: { environment: ["FUNKER_SECRET_FILE"], secrets: ["funker-key"] } });
    expect(valuesOf(dropped, "--env-rm")).toEqual(["FUNKER_SECRET_FILE"]);
    expect(valuesOf(dropped, "--secret-rm")).toEqual(["funker-key"]);
  });

  it("write the same into the compose file, each key secret read from ./secrets/<name>", () => {
    const document = parse(composeFile(keyed)) as { services: Record<string, { environment?: Record<string, string>; secrets?: string[] }>; secrets: Record<string, { file: string }> };
    const variables = { FUNKER_SECRET_FILE: "/run/secrets/funker-key", FUNKER_SECRET_FILES: "pay=/run/secrets/pay-key" };
    expect(document.services["add"]).toMatchObject({ environment: variables, secrets: ["db-password", "funker-key", "pay-key"] });
    expect(document.services["pay"]).toMatchObject({ environment: variables, secrets: ["funker-key", "pay-key"] });
    expect(document.services["web"]).toMatchObject({ environment: { ...variables, LEVEL: "debug" }, secrets: ["funker-key", "pay-key"] });
    expect(document.secrets).toEqual({
      "db-password": { file: "./secrets/db-password" },
      "funker-key": { file: "./secrets/funker-key" },
      "pay-key": { file: "./secrets/pay-key" },
    });
  });
});

describe("services of services:", () => {
  const stack = parseConfig(
    `version: 1
name: polls
functions:
  add: { entry: fns/add }
services:
  db:
    command: node db.js
    image: postgres:15-bookworm
    port: 5432
    environment: { POSTGRES_HOST_AUTH_METHOD: trust }
    volumes: ["db-data:/var/lib/postgresql/data"]
  web:
    image: funker/web
    port: 8080
    publish: 8081
  local-only:
    command: node mock.js
    port: 9000
`,
    join(root, "funker.yml"),
  );
  const [db, web] = stack.services;
  if (db === undefined || web === undefined) throw new Error("services expected");

  it("are created as plain services under their own names, with their variables, volumes and publish port", () => {
    const args = backingServiceCreateArgs(stack, db);
    expect(args.slice(0, 7)).toEqual(["service", "create", "--detach", "--name", "db", "--network", "funker"]);
    expect(valuesOf(args, "--restart-condition")).toEqual(["any"]);
    expect(valuesOf(args, "--endpoint-mode")).toEqual(["dnsrr"]);
    expect(valuesOf(args, "--restart-delay")).toEqual([]);
    expect(valuesOf(args, "--label")).toEqual(["io.funker.service=db", "io.funker.stack=polls", "com.docker.stack.namespace=polls"]);
    expect(valuesOf(args, "--env")).toEqual(["POSTGRES_HOST_AUTH_METHOD=trust"]);
    expect(valuesOf(args, "--mount")).toEqual(["type=volume,source=polls_db-data,target=/var/lib/postgresql/data,volume-label=io.funker.stack=polls"]);
    expect(valuesOf(args, "--publish")).toEqual([]);
    expect(args.at(-1)).toBe("postgres:15-bookworm");
    expect(valuesOf(backingServiceCreateArgs(stack, web, { image: "test/web" }), "--publish")).toEqual(["published=8081,target=8080,mode=host"]);
  });

  it("are updated without forcing new tasks, dropping variables, mounts and ports funker.yml no longer lists", () => {
    const args = backingServiceUpdateArgs(stack, web, { previous: { environment: ["OLD"], mounts: ["/data"], published: [80, 8080] } });
    expect(args).not.toContain("--force");
    expect(valuesOf(args, "--env-rm")).toEqual(["OLD"]);
    expect(valuesOf(args, "--mount-rm")).toEqual(["/data"]);
    expect(valuesOf(args, "--publish-rm")).toEqual(["80"]);
    expect(valuesOf(args, "--publish-add")).toEqual(["published=8081,target=8080,mode=host"]);
    expect(args.at(-1)).toBe("web");
  });

  it("are written into the compose file before the functions, with ports and volumes; one without an image is left out", () => {
    const text = composeFile(stack);
    const document = parse(text) as { services: Record<string, Record<string, unknown>>; volumes: Record<string, { name: string }> };
    expect(Object.keys(document.services)).toEqual(["db", "web", "add"]);
    expect(document.services["db"]).toMatchObject({
      image: "postgres:15-bookworm",
      restart: "always",
      environment: { POSTGRES_HOST_AUTH_METHOD: "trust" },
      labels: { "io.funker.service": "db", "io.funker.stack": "polls" },
      networks: ["funker-bridge"],
      volumes: ["db-data:/var/lib/postgresql/data"],
    });
    expect(document.services["web"]).toMatchObject({ ports: ["8081:8080"] });
    expect(document.volumes).toEqual({ "db-data": { name: "polls_db-data", labels: { "io.funker.stack": "polls" } } });
    expect(text).toMatch(/# local-only: no image in funker.yml/);
  });
});

describe("the autoscaler service (autoscale: true)", () => {
  it("runs one replica on a manager, the Docker socket mounted, on the functions' network under funker-autoscaler, managing this stack only", () => {
    expect(autoscalerCreateArgs(config)).toEqual([
      "service", "create", "--detach", "--name", "funker-autoscaler", "--network", "funker",
      "--endpoint-mode", "dnsrr", "--replicas", "1", "--restart-condition", "any", "--constraint", "node.role==manager",
      "--mount", "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock",
      "--env", "FUNKER_AUTOSCALE_LABELS=io.funker.stack=shop",
      "--no-resolve-image",
      "--label", "io.funker.autoscaler=shop", "--label", "io.funker.stack=shop", "--label", "com.docker.stack.namespace=shop",
      "funker/autoscaler",
    ]);
  });

  it("is updated to the image and stack given", () => {
    expect(autoscalerUpdateArgs(config, { image: "registry.example:5000/funker/autoscaler:2", resolveImage: true })).toEqual([
      "service", "update", "--detach", "--image", "registry.example:5000/funker/autoscaler:2",
      "--env-add", "FUNKER_AUTOSCALE_LABELS=io.funker.stack=shop",
      "--label-add", "io.funker.autoscaler=shop", "--label-add", "io.funker.stack=shop", "--label-add", "com.docker.stack.namespace=shop",
      "funker-autoscaler",
    ]);
  });
});
