import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./funker-yml.js";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "funker-config-test-"));
  mkdirSync(join(root, "add", "src"), { recursive: true });
  writeFileSync(join(root, "add", "package.json"), "{}");
  writeFileSync(join(root, "add", "src", "handler.ts"), "");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, join(root, "funker.yml"));
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.line}:${issue.column} ${issue.message}`);
    throw error;
  }
  return [];
}

describe("funker.yml", () => {
  it("reads every setting, with defaults", () => {
    const config = parseConfig(
      `version: 1
name: shop
functions:
  add:
    entry: add
    image: registry.local:5000/funker/add:1.2
    replicas: 3
    mode: reuse
    timeout: 1m30s
    concurrency: 4
    maxCalls: 1000
    environment: { LEVEL: debug, RETRIES: 3 }
    secrets: [db-password]
    scale: { min: 1, max: 8, idle: 5m, warm: 2 }
    endpointMode: vip
    protocol: legacy
  plain:
    entry: add/src/handler.ts
`,
      join(root, "funker.yml"),
    );
    expect(config.name).toBe("shop");
    expect(config.network).toBe("funker");
    const [add, plain] = config.functions;
    expect(add).toMatchObject({
      name: "add",
      entry: join(root, "add", "src", "handler.ts"),
      directory: join(root, "add"),
      image: "registry.local:5000/funker/add:1.2",
      replicas: 3,
      mode: "reuse",
      timeoutMs: 90_000,
      concurrency: 4,
      maxCalls: 1000,
      environment: { LEVEL: "debug", RETRIES: "3" },
      secrets: ["db-password"],
      secretPositions: { "db-password": { line: 13, column: 15 } },
      scale: { min: 1, max: 8, idleMs: 300_000, warm: 2 },
      endpointMode: "vip",
      protocol: "legacy",
    });
    // Positions name the file as messages show it: relative to the working directory when that is shorter.
    expect(resolve(add?.secretPositions["db-password"]?.file ?? "")).toBe(join(root, "funker.yml"));
    expect(plain).toMatchObject({ image: "plain:latest", replicas: 1, mode: "single-shot", endpointMode: "dnsrr", protocol: "auto", timeoutMs: undefined });
  });

  it("names the line and column of each problem", () => {
    expect(
      issuesOf(`version: 2
functions:
  add:
    entry: add
    replicas: -1
    mode: sometimes
    timeout: soon
    concurrency: 2
    colour: blue
    protocol: 2017
  missing:
    entry: nowhere/handler.ts
  Add_1:
    entry: add
`),
    ).toEqual([
      "1:10 `version` must be 1, the only version of this file format",
      "9:5 unknown setting functions.add.colour; expected one of: entry, image, replicas, mode, timeout, concurrency, maxCalls, maxConnections, heapLimitMb, childEnv, queueTimeout, drainTimeout, environment, secret, secrets, volumes, scale, endpointMode, protocol, dockerfile",
      "5:15 functions.add.replicas must be a whole number from 0 to 100, got -1",
      '6:11 functions.add.mode must be "single-shot" (one call per process), "reuse" (calls share a process) or "fresh" (one call per process, started ahead)',
      '7:14 functions.add.timeout must be a duration such as "30s", "500ms" or "2m", got "soon"',
      "8:18 functions.add.concurrency applies only to mode: reuse or mode: fresh (a single-shot replica serves one call)",
      '10:15 functions.add.protocol must be "auto" (callers find out), "framed" or "legacy" (a function that runs a 2017 Funker library)',
      "12:12 functions.missing.entry: nowhere/handler.ts does not exist",
      '13:3 function name "Add_1" is not a valid Docker service name: use lower case letters, digits and inner hyphens, at most 63 characters',
    ]);
  });

  it("reads the key secret of the stack and of each function, a function's own winning", () => {
    const config = parseConfig(
      `version: 1
secret: funker-key
functions:
  add:
    entry: add
  pay:
    entry: add
    secret: pay-key
    secrets: [db-password]
`,
      join(root, "funker.yml"),
    );
    expect(config.secret).toMatchObject({ name: "funker-key", position: { line: 2, column: 9 } });
    expect(config.functions.map((spec) => [spec.name, spec.keySecret?.name, spec.secrets])).toEqual([
      ["add", "funker-key", []],
      ["pay", "pay-key", ["db-password"]],
    ]);
    expect(config.functions[1]?.keySecret?.position).toMatchObject({ line: 8, column: 13 });
    expect(parseConfig("version: 1\nfunctions:\n  add: { entry: add }\n", join(root, "funker.yml")).functions[0]?.keySecret).toBeUndefined();
  });

  it("reads autoscale: true, false by default, and refuses anything but a boolean at its line", () => {
    const withScale = "functions:\n  add: { entry: add, scale: { min: 0, max: 4, idle: 5m } }\n";
    expect(parseConfig(`version: 1\nautoscale: true\n${withScale}`, join(root, "funker.yml")).autoscale).toBe(true);
    expect(parseConfig(`version: 1\n${withScale}`, join(root, "funker.yml")).autoscale).toBe(false);
    expect(issuesOf(`version: 1\nautoscale: yes please\n${withScale}`)).toEqual(["2:12 `autoscale` must be true (deploy the autoscaler with the functions) or false"]);
    expect(issuesOf(`version: 1\nautoscale: { stack: shop }\n${withScale}`)).toEqual(["2:12 `autoscale` must be true (deploy the autoscaler with the functions) or false"]);
  });

  it("refuses a key secret that is not a secret name, or that secrets: also lists", () => {
    expect(
      issuesOf(`version: 1
secret: ../key
functions:
  add:
    entry: add
    secret: [a, b]
  pay:
    entry: add
    secret: pay-key
    secrets: [db-password, pay-key]
`),
    ).toEqual([
      '2:9 secret must name the Docker secret that holds the keys of signed calls (letters, digits, ".", "_", "-")',
      '6:13 functions.add.secret must name the Docker secret that holds the keys of signed calls (letters, digits, ".", "_", "-")',
      '10:28 functions.pay.secrets lists "pay-key", the secret that holds the keys of signed calls (`secret:`); `secrets:` are for the function\'s own use, so name it in one place only',
    ]);
  });

  it("refuses a timeout the handler would refuse at every start: longer than Node's longest timer", () => {
    const withTimeout = (timeout: string): string => `version: 1\nfunctions:\n  add:\n    entry: add\n    timeout: ${timeout}\n`;
    expect(issuesOf(withTimeout("1000h"))).toEqual([
      `5:14 functions.add.timeout must be at most about 24 days (Node's longest timer; the handler refuses more), got "1000h"`,
    ]);
    expect(issuesOf(withTimeout("2147483647"))).toEqual([]);
    expect(issuesOf(withTimeout("2147483648"))).toHaveLength(1);
  });

  it("reads volumes as Compose writes them: named volumes, absolute host paths, read only", () => {
    const config = parseConfig(
      `version: 1
functions:
  add:
    entry: add
    volumes: ["votes:/votes", "/srv/config/:/etc/app/:ro", "cache:/cache:rw"]
  plain:
    entry: add
`,
      join(root, "funker.yml"),
    );
    expect(config.functions[0]?.volumes).toEqual([
      { type: "volume", source: "votes", target: "/votes", readOnly: false },
      { type: "bind", source: "/srv/config", target: "/etc/app", readOnly: true },
      { type: "volume", source: "cache", target: "/cache", readOnly: false },
    ]);
    expect(config.functions[1]?.volumes).toEqual([]);
  });

  it("refuses relative host paths, relative targets, repeated targets and other volume mistakes, naming each line", () => {
    expect(
      issuesOf(`version: 1
functions:
  add:
    entry: add
    volumes:
      - ./data:/data
      - votes:votes
      - votes:/votes
      - other:/votes/
      - votes:/v:rx
      - justaname
      - { source: votes }
      - "/srv/a,b:/ab"
      - "~/data:/data"
      - "bad name:/x"
  other:
    entry: add
    volumes: votes:/votes
`),
    ).toEqual([
      '6:9 functions.add.volumes: "./data:/data": a host path must be absolute: a relative one would depend on where Docker runs; use a named volume, or the full path',
      '7:9 functions.add.volumes: "votes:votes": the target must be an absolute folder in the container, such as /data',
      '9:9 functions.add.volumes: "other:/votes/": /votes is mounted twice',
      '10:9 functions.add.volumes: "votes:/v:rx": the mode must be "ro" (read only) or "rw" (the default), got "rx"',
      '11:9 functions.add.volumes: "justaname": expected "<source>:<target>" or "<source>:<target>:ro", such as "votes:/votes"',
      '12:9 functions.add.volumes: each entry must be a string "<source>:<target>[:ro]", such as "votes:/votes"',
      '13:9 functions.add.volumes: "/srv/a,b:/ab": paths with commas cannot be mounted (Docker\'s --mount separates its fields with commas)',
      '14:9 functions.add.volumes: "~/data:/data": a host path must be absolute: a relative one would depend on where Docker runs; use a named volume, or the full path',
      '15:9 functions.add.volumes: "bad name:/x": the source must be a volume name (letters, digits, ".", "_", "-") or an absolute host path',
      '18:14 functions.other.volumes must be a list of "<source>:<target>[:ro]" strings',
    ]);
  });

  it("reads services: a command for funker dev, an image for Docker, a port, and what a function has", () => {
    const config = parseConfig(
      `version: 1
functions:
  add: { entry: add }
services:
  db:
    command: node db.js --data "$PGDATA"
    image: postgres:15-bookworm
    port: 5432
    environment: { PGDATA: /var/lib/postgresql/data }
    volumes: ["db-data:/var/lib/postgresql/data"]
  web:
    command: [node, dist/web.js]
    port: 8080
    publish: 8081
`,
      join(root, "funker.yml"),
    );
    expect(config.services).toEqual([
      {
        name: "db",
        command: ["/bin/sh", "-c", 'node db.js --data "$PGDATA"'],
        image: "postgres:15-bookworm",
        port: 5432,
        publish: undefined,
        environment: { PGDATA: "/var/lib/postgresql/data" },
        volumes: [{ type: "volume", source: "db-data", target: "/var/lib/postgresql/data", readOnly: false }],
      },
      { name: "web", command: ["node", "dist/web.js"], image: undefined, port: 8080, publish: 8081, environment: {}, volumes: [] },
    ]);
    expect(parseConfig("version: 1\nfunctions:\n  add: { entry: add }\n", join(root, "funker.yml")).services).toEqual([]);
  });

  it("refuses a service without a port or without anything to run, a bad command, and a name a function has", () => {
    expect(
      issuesOf(`version: 1
functions:
  add: { entry: add }
services:
  add: { command: x, port: 1 }
  Bad_Name: { command: x, port: 1 }
  db: { image: postgres:15 }
  web: { port: 80 }
  cache: { command: [], port: 70000, publish: 0, colour: red }
  list: [1]
`),
    ).toEqual([
      '5:3 service name "add" is also a function\'s: each is a Docker service and a name on the network, so the names must differ',
      '6:3 service name "Bad_Name" is not a valid Docker service name: use lower case letters, digits and inner hyphens, at most 63 characters',
      "7:7 services.db.port is missing: the port the service listens on",
      "8:8 services.web: give a command (what funker dev runs), an image (what the Docker verbs run), or both",
      "9:50 unknown setting services.cache.colour; expected one of: command, image, port, publish, environment, volumes",
      "9:21 services.cache.command must be a command line (run by /bin/sh -c) or a list of words",
      "9:31 services.cache.port must be a whole number from 1 to 65535, got 70000",
      "9:47 services.cache.publish must be a whole number from 1 to 65535, got 0",
      "10:9 services.list must be a mapping with `port:` and `command:` or `image:`",
    ]);
  });

  it("reports YAML syntax errors with their position", () => {
    expect(issuesOf("version: 1\nfunctions:\n  add: [\n")[0]).toMatch(/^4:1 YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a \]/);
    expect(issuesOf("version: 1\nfunctions:\n  add:\n    entry: add\n  add:\n    entry: add\n")[0]).toMatch(/^5:3 YAML syntax: Map keys must be unique/);
  });

  it("requires functions", () => {
    expect(issuesOf("version: 1\n")).toEqual(["1:1 missing `functions:`, the functions by name"]);
    expect(issuesOf("- a\n")).toEqual(["1:1 expected a mapping with `version: 1` and `functions:`"]);
  });
});
