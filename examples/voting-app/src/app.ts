import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TypedClient } from "@funker/client";
import { FunkerError } from "@funker/client";
import type { VotingFunctions } from "./functions.js";
import type { VoteNotice } from "./pages.js";
import { errorPage, resultsPage, votingPage } from "./pages.js";
import type { ResultsFeed } from "./results.js";
import { streamResults } from "./results.js";
import type { OptionLabels } from "./votes.js";
import { VOTE_VALUES } from "./votes.js";

/** The cookie that identifies a voter, as the seed's: a random hex string; the database keeps one vote per value. */
export const VOTER_COOKIE = "voter_id";

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
 * heartbeats (15 s by default); storing a vote is idempotent (the same
 * voter's same vote stored twice is one row), so a call that ran out of
 * time is simply made again, and a voter waits seconds rather than the
 * whole limit.
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
 * (voting again is harmless, as a voter's vote replaces the last, but the
 * voter should not be told it failed when it may not have).
 */
export function describeFailure(error: unknown, labels?: OptionLabels): FriendlyFailure {
  if (!(error instanceof FunkerError)) {
    return { status: 500, title: "Something went wrong", message: "The voting page failed unexpectedly. Please try again.", code: "internal" };
  }
  const code = error.code;
  switch (code) {
    case "bad_arguments":
      return { status: 400, title: "That vote was not valid", message: `Please choose ${labels === undefined ? "one of the options" : `${labels.a} or ${labels.b}`}.`, code };
    case "not_found":
    case "connection_failed":
    case "unavailable":
      return unreachable(code);
    case "deadline_exceeded":
    case "cancelled":
      if (!error.mayHaveRun) {
        // Out of time before any replica took the call: what stood in the way
        // (every address refused, or every replica was busy) is the cause.
        if (error.cause instanceof FunkerError && ["not_found", "connection_failed"].includes(error.cause.code)) return unreachable(code);
        return {
          status: 503,
          title: "Voting is busy",
          message: "Your vote was not recorded: no vote counter answered in time. Please try again in a moment.",
          code,
        };
      }
      return {
        status: 504,
        title: "No answer in time",
        message: "We could not confirm your vote: it may have been counted. Check the results; voting again is safe, you are counted once.",
        code,
      };
    case "unauthenticated":
      return { status: 503, title: "Voting is unavailable", message: "The vote counter refused this site's credentials. Please tell the site's operator.", code };
    case "handler_error":
    case "bad_result":
    case "handler_crashed":
    case "protocol_error":
    case "payload_too_large":
    case "internal":
      return {
        status: 502,
        title: "Something went wrong",
        message: "The vote counter failed while recording your vote, so it may or may not be counted. Check the results; voting again is safe.",
        code,
      };
    default: {
      const unexpected: never = code;
      return { status: 500, title: "Something went wrong", message: `Unexpected failure (${String(unexpected)}).`, code: String(unexpected) };
    }
  }
}

function unreachable(code: string): FriendlyFailure {
  return {
    status: 503,
    title: "Voting is unavailable",
    message: "Your vote was not recorded: the vote counter is not reachable right now. Please try again in a moment.",
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
  const vote = query.get("voted");
  if (vote !== "a" && vote !== "b") return undefined;
  return { vote, stored: query.get("stored") === "yes" };
}

/** What the web service needs: the functions it calls, the results it reads, and how the choices are shown. */
export interface VotingAppParts {
  client: TypedClient<VotingFunctions>;
  results: ResultsFeed;
  labels: OptionLabels;
  /** Each call's whole time limit, retries included (CALL_TIMEOUT_MS by default). */
  callTimeoutMs?: number;
}

/**
 * The web service's requests, the seed's vote and result pages in one
 * service. It keeps no state: the voter's id is a cookie it sets, votes go
 * through `process-vote`, and the results are read from Postgres.
 *
 * - `GET /`: the ballot; sets the voter cookie when the browser has none.
 * - `POST /vote`: calls `process-vote` with `{ voter_id, vote }`, then
 *   redirects (303) to the ballot, which shows the choice.
 * - `GET /results`: the counts, kept live by `GET /results/stream`
 *   (Server-Sent Events); `GET /results.json` gives them as JSON.
 */
export function createVotingHandler(parts: VotingAppParts): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const { client, results, labels } = parts;
  const callTimeoutMs = parts.callTimeoutMs ?? CALL_TIMEOUT_MS;
  return async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (request.method === "GET" && url.pathname === "/") {
      const headers: Record<string, string> = {};
      if (readCookie(request, VOTER_COOKIE) === undefined) {
        headers["set-cookie"] = `${VOTER_COOKIE}=${randomBytes(8).toString("hex")}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000`;
      }
      send(response, 200, votingPage(labels, noticeFrom(url.searchParams)), headers);
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
        // Idempotent: the same voter's same vote stored twice is one row, so a retry after a crash cannot count twice.
        const args = { voter_id: voter, vote: form.get("vote") ?? "" };
        const receipt = await callIdempotent(callTimeoutMs, (timeout) => client.call("process-vote", args, { timeout, idempotent: true }));
        // The seed's function replies nothing; ours says which vote it took and whether it is stored yet.
        const vote = receipt?.vote ?? args.vote.trim().toLowerCase();
        const shown = (VOTE_VALUES as readonly string[]).includes(vote) ? `voted=${vote}&stored=${receipt?.stored === true ? "yes" : "no"}` : "";
        response.writeHead(303, { location: `/?${shown}`, "cache-control": "no-store" });
        response.end();
      } catch (error) {
        sendFailure(response, describeFailure(error, labels), false);
      }
      return;
    }
    if (request.method === "GET" && url.pathname === "/results/stream") {
      streamResults(results, response);
      return;
    }
    if (request.method === "GET" && (url.pathname === "/results" || url.pathname === "/results.json")) {
      const json = url.pathname === "/results.json";
      let tally;
      try {
        tally = await results.current();
      } catch {
        sendFailure(response, { status: 503, title: "Results unavailable", message: "The results cannot be read right now. Please try again in a moment.", code: "unavailable" }, json);
        return;
      }
      if (json) send(response, 200, JSON.stringify(tally), { "content-type": "application/json" });
      else send(response, 200, resultsPage(labels, tally));
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
export async function startVotingServer(options: VotingAppParts & { port: number; host: string }): Promise<VotingServer> {
  const handle = createVotingHandler(options);
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) sendFailure(response, describeFailure(error), false);
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
    // Open result streams never go idle: they are closed with the server.
    server.closeAllConnections();
    await closed;
  };
  return { server, url: `http://${host}:${port}`, close, [Symbol.asyncDispose]: close };
}
