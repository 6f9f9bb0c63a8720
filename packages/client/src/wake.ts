import { connect, isIP } from "node:net";
import { parseAddress } from "./discovery.js";
import type { Address } from "./discovery.js";
import type { DnsResolver } from "./options.js";

/** The autoscaler's service name on a Swarm network, which `funker deploy` gives it. */
export const DEFAULT_AUTOSCALER_HOST = "funker-autoscaler";
/** The autoscaler's wake port (the autoscaler README, *The wake port*). */
export const WAKE_PORT = 9997;
/** The autoscaler answers a wake after one Engine API update, in milliseconds; a slower answer is none. */
const WAKE_TIMEOUT_MS = 5_000;
/** The status line is all that is read of the answer. */
const MAX_WAKE_ANSWER_BYTES = 4_096;

/**
 * What the autoscaler said of a function without replicas: `known` (it
 * exists, and a replica is asked for or on its way), `unknown` (no such
 * function), or `no_answer` (no autoscaler reached, or it failed).
 */
export type WakeOutcome = "known" | "unknown" | "no_answer";

/**
 * Asks the autoscaler to start a replica of a function that has none:
 * `POST /wake/<function>` over a plain TCP connection (HTTP/1.1, the status
 * line read, the rest ignored). Concurrent wakes of one name share one
 * request. A wake never rejects.
 */
export class Waker {
  private readonly address: Address;
  private readonly inflight = new Map<string, Promise<WakeOutcome>>();

  constructor(
    where: string,
    private readonly dns: DnsResolver,
    private readonly lookupTimeoutMs: number,
  ) {
    this.address = parseAddress(where, WAKE_PORT);
  }

  /** `host:port` of the autoscaler, for messages. */
  get where(): string {
    return this.address.key;
  }

  wake(name: string, deadline: number): Promise<WakeOutcome> {
    let pending = this.inflight.get(name);
    if (pending === undefined) {
      pending = this.ask(name, deadline)
        .catch((): WakeOutcome => "no_answer")
        .finally(() => this.inflight.delete(name));
      this.inflight.set(name, pending);
    }
    return pending;
  }

  private async ask(name: string, deadline: number): Promise<WakeOutcome> {
    const { host, port } = this.address;
    const timeoutMs = Math.min(WAKE_TIMEOUT_MS, deadline - Date.now());
    if (timeoutMs <= 0) return "no_answer";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    timer.unref();
    try {
      let ip = host;
      if (isIP(host) === 0) {
        const found = await lookUpWithin(this.dns, host, this.lookupTimeoutMs, controller.signal);
        if (found[0] === undefined) return "no_answer";
        ip = found[0];
      }
      const status = await postStatus(ip, port, `/wake/${encodeURIComponent(name)}`, host, controller.signal);
      if (status === 404) return "unknown";
      return status !== undefined && status >= 200 && status < 300 ? "known" : "no_answer";
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}

/** The system look-up of `host`, or none when it fails, takes longer than `timeoutMs`, or `signal` aborts. */
function lookUpWithin(dns: DnsResolver, host: string, timeoutMs: number, signal: AbortSignal): Promise<readonly string[]> {
  return new Promise((resolve) => {
    const end = (addresses: readonly string[]): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(addresses);
    };
    const onAbort = (): void => end([]);
    const timer = setTimeout(onAbort, timeoutMs);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      Promise.resolve(dns.lookup(host, signal)).then(end, onAbort);
    } catch {
      onAbort();
    }
  });
}

/** Sends an empty POST and reads the answer's status code; undefined on any failure or on `signal`. */
function postStatus(ip: string, port: number, path: string, host: string, signal: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port });
    let answer = "";
    const done = (status: number | undefined): void => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      resolve(status);
    };
    const onAbort = (): void => done(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    socket.setEncoding("latin1");
    socket.on("connect", () => socket.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`));
    socket.on("data", (chunk: string) => {
      answer += chunk;
      const line = answer.indexOf("\r\n");
      if (line >= 0) {
        const status = /^HTTP\/1\.[01] (\d{3})\b/.exec(answer)?.[1];
        done(status === undefined ? undefined : Number(status));
      }
      else if (answer.length > MAX_WAKE_ANSWER_BYTES) done(undefined);
    });
    socket.on("error", () => done(undefined));
    socket.on("close", () => done(undefined));
  });
}
