import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, test } from "vitest";
import { encodeResult } from "@funker/protocol";
import { createClient } from "@funker/client";
import type { DnsResolver } from "@funker/client";
import { startFramedServer } from "./test-support/servers.js";
import { dnsError, rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

/** An autoscaler's wake port on loopback: answers `status` to every request, and records them. */
async function wakePort(status: number, onWake: () => void = () => {}): Promise<{ address: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((incoming, response) => {
    requests.push(`${incoming.method ?? ""} ${incoming.url ?? ""}`);
    onWake();
    response.writeHead(status, { "content-type": "application/json" }).end("{}\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: a server's, closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** DNS where `tasks.<name>` resolves to 127.0.0.1 only once `running()` says so; every other name is unknown. */
function dnsOf(name: string, running: () => boolean): DnsResolver & { questions: string[] } {
  const questions: string[] = [];
  const answer = (hostname: string): Promise<readonly string[]> => {
    questions.push(hostname);
    return hostname === `tasks.${name}` && running() ? Promise.resolve(["127.0.0.1"]) : Promise.reject(dnsError("ENOTFOUND"));
  };
  return { questions, resolveAll: answer, lookup: answer };
}

const quickRetries = { initialBackoffMs: 20, maxBackoffMs: 100 };

describe("a function at zero replicas", () => {
  test("is woken through the autoscaler, once for concurrent callers, and its first calls wait for the replica past the not-found grace", async () => {
    const replica = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "woken")) }, "127.0.0.1"));
    let startedAt: number | undefined;
    // The replica appears in DNS 700 ms after the wake: longer than the client's not-found grace.
    const autoscaler = track(await wakePort(202, () => (startedAt ??= Date.now() + 700)));
    const dns = dnsOf("sleepy", () => startedAt !== undefined && Date.now() >= startedAt);
    const client = track(createClient({ dns, port: replica.port, autoscaler: autoscaler.address, notFoundGraceMs: 300, timeout: 10_000, retry: quickRetries }));
    const answers = await Promise.all(Array.from({ length: 5 }, () => client.call("sleepy", {})));
    expect(answers).toEqual(Array.from({ length: 5 }, () => "woken"));
    expect(autoscaler.requests).toEqual(["POST /wake/sleepy"]);
  });

  test("is not_found at once when the autoscaler knows no such function, without waiting for the grace", async () => {
    const autoscaler = track(await wakePort(404));
    const client = track(createClient({ dns: dnsOf("nothing", () => false), autoscaler: autoscaler.address, notFoundGraceMs: 60_000, timeout: 120_000, retry: quickRetries }));
    const error = await rejectionOf(client.call("nothing", {}));
    expect(error).toMatchObject({ code: "not_found", mayHaveRun: false });
    expect(error.message).toBe(`no function "nothing" was found (neither tasks.nothing nor nothing resolves), and the autoscaler at ${autoscaler.address} knows no such function`);
    expect(autoscaler.requests).toEqual(["POST /wake/nothing"]);
  }, 10_000);

  test("with no autoscaler answering, is not_found after the grace, saying that no replica runs and no autoscaler answered", async () => {
    const port = await closedPort();
    const client = track(createClient({ dns: dnsOf("sleepy", () => false), autoscaler: `127.0.0.1:${port}`, notFoundGraceMs: 300, retry: quickRetries }));
    const error = await rejectionOf(client.call("sleepy", {}));
    expect(error).toMatchObject({ code: "not_found", mayHaveRun: false });
    expect(error.message).toBe(`no function "sleepy" was found (neither tasks.sleepy nor sleepy resolves): no replica runs, and no autoscaler answered at 127.0.0.1:${port} to start one`);
  });

  test("asks the autoscaler by its service name, funker-autoscaler, unless told otherwise", async () => {
    const dns = dnsOf("sleepy", () => false);
    const client = track(createClient({ dns, notFoundGraceMs: 200, retry: quickRetries }));
    const error = await rejectionOf(client.call("sleepy", {}));
    expect(error.message).toContain("no autoscaler answered at funker-autoscaler:9997");
    expect(dns.questions).toContain("funker-autoscaler");
  });

  test("asks nothing with autoscaler: false", async () => {
    const dns = dnsOf("sleepy", () => false);
    const client = track(createClient({ dns, autoscaler: false, notFoundGraceMs: 200, retry: quickRetries }));
    const error = await rejectionOf(client.call("sleepy", {}));
    expect(error.message).toBe(`no function "sleepy" was found (neither tasks.sleepy nor sleepy resolves)`);
    expect(dns.questions).not.toContain("funker-autoscaler");
  });

  test("a replica the autoscaler starts that never comes is unavailable at the call's deadline, never delivered", async () => {
    const autoscaler = track(await wakePort(202));
    const client = track(createClient({ dns: dnsOf("stuck", () => false), autoscaler: autoscaler.address, notFoundGraceMs: 100, retry: quickRetries }));
    const error = await rejectionOf(client.call("stuck", {}, { timeout: 800 }));
    expect(error).toMatchObject({ code: "unavailable", mayHaveRun: false });
    expect(error.message).toMatch(new RegExp(`^no replica of "stuck" started within the call's 800 ms: the autoscaler at ${autoscaler.address} was asked to start one \\d+ ms ago; the call was not delivered$`));
  });

  test("a bad FUNKER_AUTOSCALER-style address is a TypeError at creation", () => {
    expect(() => createClient({ autoscaler: "host:99999" })).toThrow(/^autoscaler: invalid address "host:99999"/);
  });
});
