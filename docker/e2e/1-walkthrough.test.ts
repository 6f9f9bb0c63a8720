import { afterAll, describe, expect, it } from "vitest";
import {
  callerCommand,
  callerRun,
  createDocumentedService,
  docker,
  dockerResult,
  dockerRunOn,
  documentedCommand,
  images,
  removeServices,
  report,
  runId,
  TEST_LABEL,
  waitFor,
  waitForReplicas,
} from "./support.js";

// The seed's walkthrough, command for command as the README gives it (read
// from README.md, with this run's service and image names): build the images
// (global setup), create the network, create the service, call it from the
// caller image on the network. dnsrr because this kernel has no IPVS for a
// virtual IP.
describe("the seed's walkthrough on a real Swarm", () => {
  const service = `${runId()}-add`;
  const addJs = `${runId()}-add-js`;
  const started = Date.now();

  afterAll(async () => {
    await removeServices([service, addJs]);
    report("walkthrough", { seconds: Math.round((Date.now() - started) / 100) / 10 });
  });

  it("creates the attachable overlay network, or finds it there", async () => {
    const created = await dockerResult(["network", "create", "--attachable", "-d", "overlay", "funker"]);
    if (created.code !== 0) expect(created.stderr).toMatch(/already exists/);
    expect((await docker(["network", "inspect", "--format", "{{.Driver}} {{.Attachable}}", "funker"])).trim()).toBe("overlay true");
  });

  it("serves the seed's call: 3; the replica exits after it, Swarm replaces it, and a second call succeeds", async () => {
    const names = { add: service, "funker/add:latest": images().add };
    await createDocumentedService(documentedCommand("README.md", "docker service create"), names);
    await waitForReplicas(service, 1);
    const call = documentedCommand("README.md", "docker run --rm --net funker funker/caller call");
    expect(call.comment).toBe("3");
    const first = await callerRun("funker", callerCommand(call, names));
    expect(first).toMatchObject({ code: 0, stdout: "3\n" });
    expect(JSON.parse(await docker(["service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Init}}", service]))).toBe(true);

    // The task that served the call completed (exit 0) and a new one was started for the next call.
    // A replacement is first desired "Ready" (its restart delay), then "Running": wait for the second.
    await waitFor("the first task to complete and a second to be started", async () => {
      const listed = await docker(["service", "ps", "--no-trunc", "--format", "{{.DesiredState}}|{{.CurrentState}}", service]);
      const rows = listed.trim().split("\n");
      return rows.some((row) => row.startsWith("Shutdown|Complete")) && rows.some((row) => row.startsWith("Running|")) ? true : undefined;
    });

    const second = await callerRun("funker", callerCommand(call, names));
    expect(second).toMatchObject({ code: 0, stdout: "3\n" });
  });

  it("runs examples/add-js's README: the 2017 callback-style function as a service, called from the caller image", async () => {
    const file = "examples/add-js/README.md";
    // The image is built from the example's Dockerfile in the global setup, FROM this run's handler-node image.
    const names = { add: addJs, "add-js": images().addJs };
    await createDocumentedService(documentedCommand(file, "docker service create"), names);
    await waitForReplicas(addJs, 1);
    const call = documentedCommand(file, "docker run --rm --net funker funker/caller call");
    expect(await callerRun("funker", callerCommand(call, names))).toMatchObject({ code: 0, stdout: `${call.comment}\n` });
  });

  it("opens a REPL with call() ready when the caller image runs without a command", async () => {
    const repl = await callerRun("funker", [], { input: `call(${JSON.stringify(service)}, { x: 20, y: 22 }).then((sum) => console.log("sum", sum))\n` });
    expect(repl.code).toBe(0);
    expect(repl.stdout).toMatch(/^sum 42$/m);
  });

  it("stops on SIGTERM with exit code 0 once listening: node as PID 1 handles the signal", async () => {
    const container = (await dockerRunOn("funker", ["--detach", "--label", `${TEST_LABEL}=${runId()}`, images().add])).stdout.trim();
    try {
      // Listening (port 9999 = 270F in state 0A) is read from the kernel's table: a connection would be the replica's one call.
      await waitFor("the function to listen", async () => {
        const table = await dockerResult(["exec", container, "cat", "/proc/net/tcp"]);
        return /:270F [0-9A-F]{8}:0000 0A/.test(table.stdout) ? true : undefined;
      });
      await docker(["stop", "--time", "20", container]);
      // A process that ignored SIGTERM would be killed after 20 s with SIGKILL: exit code 137.
      expect((await docker(["inspect", "--format", "{{.State.ExitCode}}", container])).trim()).toBe("0");
    } finally {
      await dockerResult(["rm", "-f", container]);
    }
  });

  it("under Docker's init (as funker deploy runs functions), stops at once also when SIGTERM comes during start-up", async () => {
    const container = (await dockerRunOn("funker", ["--detach", "--init", "--label", `${TEST_LABEL}=${runId()}`, images().add])).stdout.trim();
    try {
      await docker(["stop", "--time", "20", container]);
      // 0: the handler's own exit; 143: Node's default end on SIGTERM, before the handler was installed. Never SIGKILL's 137.
      expect(["0", "143"]).toContain((await docker(["inspect", "--format", "{{.State.ExitCode}}", container])).trim());
    } finally {
      await dockerResult(["rm", "-f", container]);
    }
  });
});
