/**
 * TCP keepalive's first probe after this much quiet: 30 s, as the 2017 Go
 * caller set it, well inside the idle timeouts after which Swarm's overlay
 * networks silently drop a connection (a few minutes), so that a quiet
 * connection stays open and a vanished peer is noticed.
 */
export const TCP_KEEPALIVE_DELAY_MS = 30_000;
