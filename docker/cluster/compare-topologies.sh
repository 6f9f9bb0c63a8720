#!/usr/bin/env bash
# Which Swarm topology is the more reliable on this machine: one manager and
# two workers, or three managers? For each, `cycles` times from nothing:
#   up             cluster.sh up: engines, Swarm, registry, base image
#   placed         a 3-replica service placed, one task per node
#   cut            n3's link cut: until the Swarm marks n3 Down, and until its task runs elsewhere
#   restore        n3's link back: until n3 is Ready
#   power-off/on   n3's engine and containers killed, then started: until Down, moved, Ready again
# and throughout, the control plane is asked `docker node ls` every 0.5 s on
# n1: `unanswered` counts the times it failed (no leader, timeouts). `term`
# is the highest raft term in the managers' logs at the end: each term past
# 2 is a leader election the cluster needed after the first.
#
#   bash docker/cluster/compare-topologies.sh [cycles] [managers…]   (default: 3 cycles of 1, then of 3; about 70 s a cycle; root)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cycles="${1:-3}"
topologies=("${@:2}")
[ "${#topologies[@]}" -gt 0 ] || topologies=(1 3)
output="$(mktemp)"
trap 'rm -f "$output"' EXIT
# cluster.sh, its output shown only when it fails.
cluster() { bash "$here/cluster.sh" "$@" >"$output" 2>&1 || { cat "$output" >&2; return 1; }; }

now() { date +%s.%N; }
seconds_since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

# Waits until `check` succeeds, at most 120 s; prints the seconds it took, or "timeout".
wait_for() {
  local started
  started="$(now)"
  for _ in $(seq 1 480); do
    if "$@" >/dev/null 2>&1; then seconds_since "$started"; return 0; fi
    sleep 0.25
  done
  echo timeout
}

node_status() { $manager node ls --format '{{.Hostname}} {{.Status}}' | grep -qx "$1 $2"; }
tasks_away_from() {
  local running
  running="$($manager service ps topology-probe --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | grep -c ' Running' || true)"
  [ "$running" = 3 ] && ! $manager service ps topology-probe --filter desired-state=running --format '{{.Node}}' | grep -qx "$1"
}
placed_one_per_node() { [ "$($manager service ps topology-probe --filter desired-state=running --format '{{.Node}} {{.CurrentState}}' | grep ' Running' | cut -d' ' -f1 | sort -u | wc -l)" = 3 ]; }

printf '%-9s %-5s %-5s %-6s %-7s %-8s %-7s %-9s %-9s %-9s %-9s %-10s %s\n' managers cycle up placed cutDown moved restore powerDown moved powerOn unanswered term result
for managers in "${topologies[@]}"; do
  export FUNKER_CLUSTER_MANAGERS="$managers"
  for cycle in $(seq 1 "$cycles"); do
    cluster down
    started="$(now)"
    if ! cluster up; then
      printf '%-9s %-5s %s\n' "$managers" "$cycle" "up failed"
      continue
    fi
    up="$(seconds_since "$started")"
    layout="$(bash "$here/cluster.sh" describe)"
    field() { node -p "const layout = JSON.parse(process.argv[1]); $1" "$layout"; }
    manager="docker -H unix://$(field 'layout.nodes[0].socket')"
    registry="$(field 'layout.registry')"
    n3="$(field 'layout.nodes[2].hostname')"
    root="$(field 'layout.root')"

    # The control plane, asked twice a second until the cycle ends.
    unanswered_file="$(mktemp)"
    ( while :; do timeout 5 $manager node ls >/dev/null 2>&1 || echo x >>"$unanswered_file"; sleep 0.5; done ) &
    poller=$!

    $manager service create --detach --name topology-probe --replicas 3 --endpoint-mode dnsrr --restart-delay 1s \
      "$registry/node:20-bookworm-slim" node -e 'setInterval(() => {}, 1 << 30)' >/dev/null
    placed="$(wait_for placed_one_per_node)"

    cluster cut n3
    cut_down="$(wait_for node_status "$n3" Down)"
    cut_moved="$(wait_for tasks_away_from "$n3")"
    cluster restore n3
    restored="$(wait_for node_status "$n3" Ready)"

    cluster power-off n3
    power_down="$(wait_for node_status "$n3" Down)"
    power_moved="$(wait_for tasks_away_from "$n3")"
    started="$(now)"
    cluster power-on n3
    wait_for node_status "$n3" Ready >/dev/null
    powered_on="$(seconds_since "$started")"

    $manager service rm topology-probe >/dev/null
    kill "$poller" 2>/dev/null || true
    wait "$poller" 2>/dev/null || true
    unanswered="$(wc -l <"$unanswered_file")"
    rm -f "$unanswered_file"
    term="$(cat "$root"/n*/dockerd.log 2>/dev/null | grep -o 'at term [0-9]*' | awk '{ if ($3 > max) max = $3 } END { print max + 0 }')"
    result=ok
    for figure in "$placed" "$cut_down" "$cut_moved" "$restored" "$power_down" "$power_moved"; do [ "$figure" = timeout ] && result=failed; done
    printf '%-9s %-5s %-5s %-6s %-7s %-8s %-7s %-9s %-9s %-9s %-9s %-10s %s\n' \
      "$managers" "$cycle" "$up" "$placed" "$cut_down" "$cut_moved" "$restored" "$power_down" "$power_moved" "$powered_on" "$unanswered" "$term" "$result"
  done
done
cluster down
