import type { ServerResponse } from "node:http";
import type { Queryable, Tally } from "./votes.js";
import { countVotes } from "./votes.js";

/**
 * How often the results are read from Postgres. The seed's results page
 * read the database once a second and pushed the counts to the browsers;
 * half a second keeps a vote on every open page within a second. One query
 * per interval for the whole web service, however many pages are open.
 * Postgres could announce each vote (LISTEN/NOTIFY), but PGlite, the
 * database of `funker dev`, runs one session for all its connections and
 * hands a notification to the connection that caused it, never to the one
 * that listens (README.md, "PGlite, measured"): reading serves both.
 */
export const RESULTS_POLL_MS = 500;
/** A comment line on each open stream this often, so proxies and browsers keep it open while nothing changes. */
const KEEP_ALIVE_MS = 15_000;
/** Browsers reconnect a dropped stream after this long (the stream's `retry:` field). */
const RECONNECT_MS = 1_000;

type Listener = (tally: Tally) => void;

/**
 * The current counts, read every `intervalMs` while anyone listens, and each
 * change handed to every listener. A failed read (the database restarting)
 * is reported once and tried again at the next tick; listeners keep the
 * last counts meanwhile. `prepare` (creating the table) runs before the
 * first read, and again before each read until it has succeeded once.
 */
export class ResultsFeed {
  private readonly listeners = new Set<Listener>();
  private latest: Tally | undefined;
  private latestText = "";
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private failing = false;
  private prepared = false;

  constructor(
    private readonly db: Queryable,
    private readonly intervalMs: number = RESULTS_POLL_MS,
    private readonly onError: (error: unknown) => void = () => undefined,
    private readonly prepare: () => Promise<void> = async () => undefined,
  ) {}

  /** The counts now, read afresh (for a page or a JSON request). */
  async current(): Promise<Tally> {
    await this.read();
    if (this.latest === undefined) throw new Error("the results could not be read");
    return this.latest;
  }

  /** Calls `listener` with the counts at once (when known) and on every change; returns the unsubscribe. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.latest !== undefined) listener(this.latest);
    this.schedule();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer !== undefined || this.listeners.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.read().finally(() => this.schedule());
    }, this.latest === undefined ? 0 : this.intervalMs);
  }

  /** One read at a time: a page's request during a tick shares the tick's query. */
  private read(): Promise<void> {
    this.reading ??= (async () => {
      try {
        if (!this.prepared) await this.prepare();
        this.prepared = true;
        this.publish(await countVotes(this.db));
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.onError(error);
        this.failing = true;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  private publish(tally: Tally): void {
    const text = JSON.stringify(tally);
    if (text === this.latestText) return;
    this.latest = tally;
    this.latestText = text;
    for (const listener of this.listeners) listener(tally);
  }
}

/**
 * Serves the counts as Server-Sent Events: an event `counts` with the tally
 * as JSON when the stream opens and at every change. Plain HTTP, so it
 * passes where WebSockets may not, and the browser reconnects by itself.
 */
export function streamResults(feed: ResultsFeed, response: ServerResponse): void {
  response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" });
  response.write(`retry: ${RECONNECT_MS}\n\n`);
  const unsubscribe = feed.subscribe((tally) => response.write(`event: counts\ndata: ${JSON.stringify(tally)}\n\n`));
  const keepAlive = setInterval(() => response.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
  response.on("close", () => {
    clearInterval(keepAlive);
    unsubscribe();
  });
}
