import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TypedClient } from "@funker/client";
import { FunkerError } from "@funker/client";
import type { VotingFunctions } from "./functions.js";
import type { VoteNotice } from "./pages.js";
import { errorPage, resultsPage, votingPage } from "./pages.js";
import type { VotingOption } from "./votes.js";
import { VOTING_OPTIONS } from "./votes.js";

/** The cookie that identifies a voter: `process-vote` counts one vote per value. */
export const VOTER_COOKIE = "funker_voter";

/** A form holds one short field; anything larger is not from our page. */
const MAX_FORM_BYTES = 4096;

/**
 * How long a page waits for a function. Single-shot replicas on Swarm are
 * replaced 1 to 6 s after each call, so a burst of voters can wait a few
 * seconds for a free one; longer than this, the voter is better told.
 */
export const CALL_TIMEOUT_MS = 15_000;

/**
 * One attempt's time limit within CALL_TIMEOUT_MS. A replica that dies under
 * an established connection without a reset (its host or overlay path gone)
 * answers nothing, and the client would only notice after three missed
 * heartbeats (15 s by default); both functions are idempotent, so a call
 * that ran out of time is simply made again, and a voter waits seconds
 * rather than the whole limit.
 */
export const ATTEMPT_TIMEOUT_MS = 4_000;

/**
 * Calls an idempotent function in attempts of ATTEMPT_TIMEOUT_MS until
 * `timeoutMs` has passed, trying again only after `deadline_exceeded`.
 */
async function callIdempotent<Result>(timeoutMs: number, attempt: (timeout: number) => Promise<Result>): Promise<Result> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      return await attempt(Math.min(ATTEMPT_TIMEOUT_MS, Math.max(remaining, 1)));
    } catch (error) {
      if (!(error instanceof FunkerError) || error.code !== "deadline_exceeded" || deadline - Date.now() <= 0) throw error;
    }
  }
}

/** A failure as the voter sees it: an HTTP status and words that say what to do. */
export interface FriendlyFailure {
  status: number;
  title: string;
  message: string;
  code: string;
}

/**
 * Turns a failed call into what a voter can act on. The client's codes say
 * whether the function may have run (`mayHaveRun`): a vote that certainly was
 * not recorded is "try again"; one that may have been is "check the results"
 * (trying again is harmless, as votes are de-duplicated, but the voter should
 * not be told it failed when it may not have).
 */
export function describeFailure(error: unknown, action: "vote" | "tally"): FriendlyFailure {
  if (!(error instanceof FunkerError)) {
    return { status: 500, title: "Something went wrong", message: "The voting page failed unexpectedly. Please try again.", code: "internal" };
  }
  const code = error.code;
  switch (code) {
    case "bad_arguments":
      return { status: 400, title: "That vote was not valid", message: `Please choose one of ${Object.values(VOTING_OPTIONS).join(" or ")}.`, code };
    case "not_found":
    case "connection_failed":
    case "unavailable":
      return unreachable(action, code);
    case "deadline_exceeded":
    case "cancelled":
      if (!error.mayHaveRun) {
        // Out of time before any replica took the call: what stood in the way
        // (every address refused, or every replica was busy) is the cause.
        if (error.cause instanceof FunkerError && ["not_found", "connection_failed"].includes(error.cause.code)) return unreachable(action, code);
        return {
          status: 503,
          title: "Voting is busy",
          message: action === "vote" ? "Your vote was not recorded: no vote counter answered in time. Please try again in a moment." : "The results could not be counted in time. Please try again in a moment.",
          code,
        };
      }
      return {
        status: 504,
        title: "No answer in time",
        message: action === "vote" ? "We could not confirm your vote: it may have been counted. Check the results; voting again is safe, you are counted once." : "The results took too long to count. Please try again.",
        code,
      };
    case "unauthenticated":
      return { status: 503, title: "Voting is unavailable", message: "The vote counter refused this site's credentials. Please tell the site's operator.", code };
    case "handler_error":
    case "handler_crashed":
    case "protocol_error":
    case "payload_too_large":
    case "internal":
      return {
        status: 502,
        title: "Something went wrong",
        message: action === "vote" ? "The vote counter failed while recording your vote, so it may or may not be counted. Check the results; voting again is safe." : "The results could not be counted. Please try again.",
        code,
      };
    default: {
      const unexpected: never = code;
      return { status: 500, title: "Something went wrong", message: `Unexpected failure (${String(unexpected)}).`, code: String(unexpected) };
    }
  }
}

function unreachable(action: "vote" | "tally", code: string): FriendlyFailure {
  return {
    status: 503,
    title: "Voting is unavailable",
    message: action === "vote" ? "Your vote was not recorded: the vote counter is not reachable right now. Please try again in a moment." : "The results cannot be counted right now. Please try again in a moment.",
    code,
  };
}

export function readCookie(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? "").split(";")) {
    const separator = part.indexOf("=");
    if (separator > 0 && part.slice(0, separator).trim() === name) return decodeURIComponent(part.slice(separator + 1).trim());
  }
  return undefined;
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    bytes += chunk.byteLength;
    if (bytes > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

function send(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const contentType = headers["content-type"] ?? "text/html; charset=utf-8";
  response.writeHead(status, { "content-type": contentType, "cache-control": "no-store", ...headers });
  response.end(body);
}

function sendFailure(response: ServerResponse, failure: FriendlyFailure, json: boolean): void {
  const headers: Record<string, string> = failure.status === 503 ? { "retry-after": "5" } : {};
  if (json) {
    send(response, failure.status, JSON.stringify({ error: { code: failure.code, message: failure.message } }), { ...headers, "content-type": "application/json" });
  } else {
    send(response, failure.status, errorPage(failure.title, failure.message), headers);
  }
}

function noticeFrom(query: URLSearchParams): VoteNotice {
  const status = query.get("vote");
  const option = query.get("option") ?? "";
  if ((status === "recorded" || status === "duplicate") && Object.hasOwn(VOTING_OPTIONS, option)) return { status, option: option as VotingOption };
  return undefined;
}

/**
 * The web service's requests. It keeps no state: the voter's id is a cookie
 * it sets, and every vote and count goes through a function.
 *
 * - `GET /`: the ballot; sets the voter cookie when the browser has none.
 * - `POST /vote`: calls `process-vote`, then redirects (303) to the results.
 * - `GET /results`: calls `tally`; `GET /results.json` gives the same as JSON.
 */
export function createVotingHandler(
  client: TypedClient<VotingFunctions>,
  callTimeoutMs: number = CALL_TIMEOUT_MS,
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  return async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (request.method === "GET" && url.pathname === "/") {
      const headers: Record<string, string> = {};
      if (readCookie(request, VOTER_COOKIE) === undefined) {
        headers["set-cookie"] = `${VOTER_COOKIE}=${randomUUID()}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`;
      }
      send(response, 200, votingPage(), headers);
      return;
    }
    if (request.method === "POST" && url.pathname === "/vote") {
      const form = await readForm(request);
      if (form === undefined) {
        send(response, 413, errorPage("That vote was not valid", "The form sent was too large."));
        return;
      }
      const voter = readCookie(request, VOTER_COOKIE);
      if (voter === undefined) {
        send(response, 400, errorPage("Cookies are needed to vote", "Your browser sent no voter cookie, which is how each voter is counted once. Allow cookies for this site, then open the ballot again."));
        return;
      }
      try {
        // Idempotent: process-vote counts a voter once, so a retry after a crash cannot count twice.
        const args = { voter, option: form.get("option") ?? "" };
        const outcome = await callIdempotent(callTimeoutMs, (timeout) => client.call("process-vote", args, { timeout, idempotent: true }));
        response.writeHead(303, { location: `/results?vote=${outcome.status}&option=${outcome.option}`, "cache-control": "no-store" });
        response.end();
      } catch (error) {
        sendFailure(response, describeFailure(error, "vote"), false);
      }
      return;
    }
    if (request.method === "GET" && (url.pathname === "/results" || url.pathname === "/results.json")) {
      const json = url.pathname === "/results.json";
      try {
        const tally = await callIdempotent(callTimeoutMs, (timeout) => client.call("tally", {}, { timeout, idempotent: true }));
        if (json) send(response, 200, JSON.stringify(tally), { "content-type": "application/json" });
        else send(response, 200, resultsPage(tally, noticeFrom(url.searchParams)));
      } catch (error) {
        sendFailure(response, describeFailure(error, "tally"), json);
      }
      return;
    }
    send(response, 404, errorPage("Not found", "There is no such page."));
  };
}

/** A running web service. */
export interface VotingServer extends AsyncDisposable {
  readonly server: Server;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

/** Starts the web service on `host:port` (0 picks a free port). */
export async function startVotingServer(options: {
  client: TypedClient<VotingFunctions>;
  port: number;
  host: string;
  /** Each call's whole time limit, retries included (CALL_TIMEOUT_MS by default). */
  callTimeoutMs?: number;
}): Promise<VotingServer> {
  const handle = createVotingHandler(options.client, options.callTimeoutMs);
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendFailure(response, describeFailure(error, "vote"), false);
      else response.destroy();
    });
  });
  server.listen(options.port, options.host);
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  const close = async (): Promise<void> => {
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    server.closeIdleConnections();
    await closed;
  };
  return { server, url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}
