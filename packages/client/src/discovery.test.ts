import { describe, expect, test } from "vitest";
import { encodeResult } from "@funker/protocol";
import { createClient } from "@funker/client";
import type { DnsResolver } from "@funker/client";
import { Discovery, DnsNameSource, makeAddress } from "./discovery.js";
import { startFramedServer } from "./test-support/servers.js";
import { dnsError, rejectionOf, useCleanup } from "./test-support/harness.js";

const { track } = useCleanup();

type Answer = readonly string[] | Error | "hang";

/** A DNS stand-in: answers from a table (or a function of the attempt), and records every question. */
function fakeDns(answer: (hostname: string, attempt: number) => Answer): DnsResolver & { questions: string[] } {
  const questions: string[] = [];
  const respond = (hostname: string, signal: AbortSignal): Promise<readonly string[]> => {
    questions.push(hostname);
    const result = answer(hostname, questions.filter((question) => question === hostname).length);
    if (result === "hang") {
      // Hangs like Swarm's DNS sometimes does; only the look-up timeout ends it.
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(dnsError("ECANCELLED")), { once: true }));
    }
    return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
  };
  return { questions, resolveAll: respond, lookup: respond };
}

async function replica() {
  return { first: track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "first")) })) };
}

describe("discovery", () => {
  test("tasks.<name> gives every replica, and calls spread over them", async () => {
    const first = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "first")) }, "127.0.0.1"));
    const second = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "second")) }, "127.0.0.2", first.port));
    const dns = fakeDns((hostname) => (hostname === "tasks.add" ? ["127.0.0.1", "127.0.0.2"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: first.port }));
    const answers = new Set<unknown>();
    for (let index = 0; index < 30; index += 1) answers.add(await client.call("add", {}));
    expect(answers).toEqual(new Set(["first", "second"]));
    expect(first.calls.length + second.calls.length).toBe(30);
  });

  test("falls back to <name> (Compose, virtual IP) when tasks.<name> does not exist", async () => {
    const { first } = await replica();
    const dns = fakeDns((hostname) => (hostname === "add" ? ["127.0.0.1"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: first.port }));
    await expect(client.call("add", {})).resolves.toBe("first");
    expect(dns.questions).toContain("tasks.add");
    expect(dns.questions).toContain("add");
  });

  test("answers are cached: a second call asks DNS nothing", async () => {
    const { first } = await replica();
    const dns = fakeDns((hostname) => (hostname === "tasks.add" ? ["127.0.0.1"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: first.port, dnsCacheMs: 60_000 }));
    await client.call("add", {});
    const asked = dns.questions.length;
    await client.call("add", {});
    expect(dns.questions.length).toBe(asked);
  });

  test("explicit endpoints skip DNS altogether", async () => {
    const { first } = await replica();
    const dns = fakeDns(() => dnsError("ENOTFOUND"));
    const client = track(createClient({ dns, endpoints: `add=${first.endpoint}` }));
    await expect(client.call("add", {})).resolves.toBe("first");
    await expect(client.call("other", {}, { endpoints: [first.endpoint] })).resolves.toBe("first");
    expect(dns.questions).toEqual([]);
  });

  test("a name that resolves nowhere is not_found after the grace period, asked again meanwhile", async () => {
    const dns = fakeDns(() => dnsError("ENOTFOUND"));
    const client = track(createClient({ dns, notFoundGraceMs: 300, retry: { initialBackoffMs: 20, maxBackoffMs: 50 } }));
    const error = await rejectionOf(client.call("missing", {}));
    expect(error.code).toBe("not_found");
    expect(error.mayHaveRun).toBe(false);
    expect(dns.questions.filter((question) => question === "tasks.missing").length).toBeGreaterThan(1);
  });

  test("a service that appears during the grace period is called", async () => {
    const { first } = await replica();
    const dns = fakeDns((hostname, attempt) => (hostname === "tasks.late" && attempt >= 3 ? ["127.0.0.1"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: first.port, notFoundGraceMs: 10_000, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } }));
    await expect(client.call("late", {})).resolves.toBe("first");
  });

  test("a DNS failure is retried until DNS answers", async () => {
    const { first } = await replica();
    const dns = fakeDns((hostname, attempt) => (attempt <= 2 ? dnsError(hostname.startsWith("tasks.") ? "ESERVFAIL" : "EAI_AGAIN") : ["127.0.0.1"]));
    const client = track(createClient({ dns, port: first.port, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } }));
    await expect(client.call("add", {})).resolves.toBe("first");
  });

  test("a DNS failure that lasts ends at the deadline: the call was not delivered", async () => {
    const dns = fakeDns(() => dnsError("ESERVFAIL"));
    const client = track(createClient({ dns, retry: { initialBackoffMs: 10, maxBackoffMs: 50 } }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 300 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(error.mayHaveRun).toBe(false);
    expect((error.cause as { code?: string }).code).toBe("connection_failed");
  });

  test("a look-up that hangs is abandoned at the look-up timeout and asked again", async () => {
    const { first } = await replica();
    const dns = fakeDns((_hostname, attempt) => (attempt === 1 ? "hang" : ["127.0.0.1"]));
    const client = track(createClient({ dns, port: first.port, lookupTimeoutMs: 100, retry: { initialBackoffMs: 10, maxBackoffMs: 20 } }));
    await expect(client.call("add", {}, { timeout: 20_000 })).resolves.toBe("first");
  });

  test("the deadline passing while finding the replica (a hanging look-up) is deadline_exceeded, not delivered", async () => {
    const dns = fakeDns(() => "hang");
    const client = track(createClient({ dns, lookupTimeoutMs: 60_000 }));
    const error = await rejectionOf(client.call("add", {}, { timeout: 200 }));
    expect(error.code).toBe("deadline_exceeded");
    expect(error.mayHaveRun).toBe(false);
    await client.close();
  });

  test("an abort while finding the replica is cancelled, not delivered", async () => {
    const dns = fakeDns(() => "hang");
    const client = track(createClient({ dns, lookupTimeoutMs: 60_000 }));
    const controller = new AbortController();
    const pending = rejectionOf(client.call("add", {}, { signal: controller.signal }));
    await expect.poll(() => dns.questions.length).toBeGreaterThan(0);
    controller.abort();
    const error = await pending;
    expect(error.code).toBe("cancelled");
    expect(error.mayHaveRun).toBe(false);
  });
});

describe("dead-address marking", () => {
  function discoveryWith(deadAddressMs: number): Discovery {
    return new Discovery({ endpoints: new Map(), names: new DnsNameSource(fakeDns(() => []), 1_000), cacheMs: 1_000, deadAddressMs });
  }

  test("a first refusal skips an address for a tenth of deadAddressMs; refusals in a row double it, up to deadAddressMs", () => {
    const discovery = discoveryWith(1_000);
    const address = makeAddress("10.0.0.1", 9999);
    const other = makeAddress("10.0.0.2", 9999);
    let now = 0;
    for (const skipMs of [100, 200, 400, 800, 1_000, 1_000]) {
      discovery.markDead(address, now);
      expect(discovery.isDead(address, now + skipMs - 1)).toBe(true);
      expect(discovery.isDead(other, now + skipMs - 1)).toBe(false);
      expect(discovery.isDead(address, now + skipMs)).toBe(false);
      now += skipMs;
    }
  });

  test("an answer resets the skip: the next refusal counts as a first one", () => {
    const discovery = discoveryWith(1_000);
    const address = makeAddress("10.0.0.1", 9999);
    discovery.markDead(address, 0);
    discovery.markDead(address, 100);
    discovery.markDead(address, 300);
    discovery.markAlive(address);
    expect(discovery.isDead(address, 301)).toBe(false);
    discovery.markDead(address, 1_000);
    expect(discovery.isDead(address, 1_099)).toBe(true);
    expect(discovery.isDead(address, 1_100)).toBe(false);
  });

  test("refusals of attempts that raced each other, while the address is skipped already, do not lengthen the skip", () => {
    const discovery = discoveryWith(1_000);
    const address = makeAddress("10.0.0.1", 9999);
    // Three concurrent calls reach a single-shot replica as it takes another call: one refusal, not a streak.
    discovery.markDead(address, 0);
    discovery.markDead(address, 1);
    discovery.markDead(address, 2);
    expect(discovery.isDead(address, 99)).toBe(true);
    expect(discovery.isDead(address, 100)).toBe(false);
    // Refused again once tried after the skip: that one is in a row.
    discovery.markDead(address, 100);
    expect(discovery.isDead(address, 299)).toBe(true);
    expect(discovery.isDead(address, 300)).toBe(false);
  });

  test("firstRetryAt is when the first of the addresses comes back, only when every one is skipped", () => {
    const discovery = discoveryWith(1_000);
    const first = makeAddress("10.0.0.1", 9999);
    const second = makeAddress("10.0.0.2", 9999);
    discovery.markDead(first, 0);
    expect(discovery.firstRetryAt([first, second], 10)).toBeUndefined();
    discovery.markDead(second, 50);
    expect(discovery.firstRetryAt([first, second], 60)).toBe(100);
    expect(discovery.firstRetryAt([second], 60)).toBe(150);
    expect(discovery.firstRetryAt([first, second], 100)).toBeUndefined();
  });

  test("a streak is forgotten once the address has gone untried for deadAddressMs after its skip", () => {
    const discovery = discoveryWith(1_000);
    const address = makeAddress("10.0.0.1", 9999);
    discovery.markDead(address, 0);
    discovery.markDead(address, 100);
    // Skipped until 300; untried until 1,300: the next refusal is a first one again.
    expect(discovery.isDead(address, 1_300)).toBe(false);
    discovery.markDead(address, 1_300);
    expect(discovery.isDead(address, 1_399)).toBe(true);
    expect(discovery.isDead(address, 1_400)).toBe(false);
  });
});

describe("a resolver of the app's own that breaks its contract", () => {
  // Regression: a resolver that threw instead of rejecting left the call waiting for its deadline.
  test("one that throws at once is a failed look-up: the call fails as not delivered, saying why", async () => {
    const throwing = (): Promise<readonly string[]> => {
      throw new Error("resolver misconfigured");
    };
    const client = track(createClient({ dns: { resolveAll: throwing, lookup: throwing }, notFoundGraceMs: 100, timeout: 3_000 }));
    const error = await rejectionOf(client.call("add", {}));
    expect(error.mayHaveRun).toBe(false);
    const reasons = [error.message, (error.cause as Error | undefined)?.message].join(" | ");
    expect(reasons).toContain("resolver misconfigured");
  });

  test("one that returns plain arrays instead of promises still works", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "found")) }));
    const [host, port] = server.endpoint.split(":") as [string, string];
    const plain = ((hostname: string) => (hostname === "tasks.add" ? [host] : [])) as unknown as (hostname: string) => Promise<readonly string[]>;
    const client = track(createClient({ dns: { resolveAll: plain, lookup: plain }, port: Number(port) }));
    expect(await client.call("add", {})).toBe("found");
  });
});

describe("a name whose replicas are all restarting", () => {
  test("is waited for past the not-found grace, until a replica is back, as a single-shot replica under a restart delay", async () => {
    const server = track(await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "back")) }, "127.0.0.1"));
    let gone = false;
    const dns = fakeDns((hostname) => (hostname === "tasks.add" && !gone ? ["127.0.0.1"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: server.port, dnsCacheMs: 1, notFoundGraceMs: 100 }));
    expect(await client.call("add", {})).toBe("back");
    gone = true;
    const pending = client.call("add", {}, { timeout: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 700));
    gone = false;
    expect(await pending).toBe("back");
  });

  test("that never come back end the call at its deadline with unavailable, not delivered", async () => {
    const server = await startFramedServer({ onCall: (call, peer) => peer.send(encodeResult(call.id, "once")) }, "127.0.0.1");
    let gone = false;
    const dns = fakeDns((hostname) => (hostname === "tasks.add" && !gone ? ["127.0.0.1"] : dnsError("ENOTFOUND")));
    const client = track(createClient({ dns, port: server.port, dnsCacheMs: 1, notFoundGraceMs: 100 }));
    await client.call("add", {});
    // The replica and its DNS entry go, and none comes back.
    await server.close();
    gone = true;
    const error = await rejectionOf(client.call("add", {}, { timeout: 600 }));
    expect(error).toMatchObject({ code: "unavailable", mayHaveRun: false });
    expect(error.message).toContain("came back");
  });

  test("a name never seen is still not_found after the grace", async () => {
    const dns = fakeDns(() => dnsError("ENOTFOUND"));
    const client = track(createClient({ dns, notFoundGraceMs: 100 }));
    expect(await rejectionOf(client.call("nowhere", {}, { timeout: 5_000 }))).toMatchObject({ code: "not_found", mayHaveRun: false });
  });
});
