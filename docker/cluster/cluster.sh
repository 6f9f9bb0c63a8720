#!/usr/bin/env bash
# A three-node Docker Swarm on one Linux machine, for Funker's multi-node tests.
#
#   cluster.sh up        namespaces, bridge, veths, three engines, the Swarm, a registry, the base image
#   cluster.sh down      removes all of it, also what a failed or killed run left
#   cluster.sh describe  the layout as JSON (nodes, addresses, sockets), for the tests
#   cluster.sh cut <n> | restore <n>        a node's link down / up (its veth on the bridge)
#   cluster.sh power-off <n> | power-on <n> a node's engine and every process of it killed at once / started again
#
# Each node is a dockerd of its own, in its own network namespace (eth0, on a
# veth to the bridge this script creates), with its own data root, exec root,
# socket, pidfile, cgroup parent, bridge address and address pools, its own
# hostname (a UTS namespace) and its own mount namespace, in which /etc/docker,
# /run/docker and /run/containerd are folders of the node's own: the host's
# engine, which other work uses at the same time, shares nothing with them.
# On the host itself the script adds only the bridge, one iptables rule
# (FORWARD, from the bridge to the bridge: the host engine's FORWARD policy is
# DROP) and its folders; `down` removes exactly those.
#
# Settings (environment):
#   FUNKER_CLUSTER_MANAGERS  1 (one manager, two workers; the default) or 3
#   FUNKER_CLUSTER_PREFIX    names of interfaces, namespaces and cgroups (default fkc)
#   FUNKER_CLUSTER_SUBNET    the bridge's /24, first three octets (default 192.168.213)
#   FUNKER_CLUSTER_ROOT      data roots, registry storage, logs (default /var/lib/funker-cluster)
#   FUNKER_CLUSTER_RUN       exec roots, sockets, pidfiles (default /run/funker-cluster)
#   FUNKER_BASE_IMAGE        the base image to copy from the host engine (default node:20-bookworm-slim)
#   FUNKER_CLUSTER_OWNER     the pid of the process that uses the cluster (the tests set it): while it
#                            lives, `up` and `down` by anyone else refuse, rather than take it away
#                            mid-run; FUNKER_CLUSTER_FORCE=1 overrides
# Needs root, Debian's docker.io (docker/setup-docker.sh: the engine, iptables and the base image),
# util-linux, and apt (the registry's package; iproute2 when it is missing).
set -euo pipefail

PREFIX="${FUNKER_CLUSTER_PREFIX:-fkc}"
SUBNET="${FUNKER_CLUSTER_SUBNET:-192.168.213}"
ROOT="${FUNKER_CLUSTER_ROOT:-/var/lib/funker-cluster}"
RUN="${FUNKER_CLUSTER_RUN:-/run/funker-cluster}"
MANAGERS="${FUNKER_CLUSTER_MANAGERS:-1}"
BASE_TAG="${FUNKER_BASE_IMAGE:-node:20-bookworm-slim}"
NODES=(n1 n2 n3)
BRIDGE="${PREFIX}0"
BRIDGE_IP="$SUBNET.1"
REGISTRY_PORT=5000
# The registry runs on n1 (the first manager), which no test fails.
REGISTRY="$SUBNET.11:$REGISTRY_PORT"
REGISTRY_IMAGE="funker-cluster/registry:2.8"
# The rule that lets the nodes talk through the bridge; the comment finds it again.
FORWARD_RULE=(FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment "$PREFIX funker cluster" -j ACCEPT)
# Raft and the dispatcher need a moment after an engine starts; 90 s covers a loaded two-core machine.
READY_SECONDS=90

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

index_of() { echo "${1#n}"; }
node_ip() { echo "$SUBNET.1$(index_of "$1")"; }
netns_of() { echo "$PREFIX-$1"; }
veth_of() { echo "$PREFIX-$1"; }
socket_of() { echo "$RUN/$1.sock"; }
pidfile_of() { echo "$RUN/$1.pid"; }
cgroup_of() { echo "$PREFIX-$1"; }
hostname_of() { echo "$PREFIX-$1"; }
ndocker() { local node="$1"; shift; docker -H "unix://$(socket_of "$node")" "$@"; }

case "$MANAGERS" in 1 | 3) ;; *) die "FUNKER_CLUSTER_MANAGERS must be 1 or 3, not $MANAGERS" ;; esac
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, a bridge, iptables, engines)"

# ---------------------------------------------------------------- ownership

# Refuses when a live process other than FUNKER_CLUSTER_OWNER uses the cluster.
check_owner() {
  local owner
  owner="$(cat "$RUN/owner" 2>/dev/null || true)"
  [ -n "$owner" ] && [ "$owner" != "${FUNKER_CLUSTER_OWNER:-}" ] && [ "${FUNKER_CLUSTER_FORCE:-0}" != 1 ] && kill -0 "$owner" 2>/dev/null \
    && die "the cluster is in use by process $owner ($(tr '\0' ' ' <"/proc/$owner/cmdline" | cut -c1-80)); FUNKER_CLUSTER_FORCE=1 to $1 it anyway"
  return 0
}

# ---------------------------------------------------------------- network

network_up() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_IP/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  iptables -C "${FORWARD_RULE[@]}" 2>/dev/null || iptables -I "${FORWARD_RULE[@]}"
  for node in "${NODES[@]}"; do
    local ns veth
    ns="$(netns_of "$node")"
    veth="$(veth_of "$node")"
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip link show "$veth" >/dev/null 2>&1; then
      ip link add "$veth" type veth peer name "$veth-p"
      ip link set "$veth-p" netns "$ns"
      ip -n "$ns" link set "$veth-p" name eth0
      ip -n "$ns" addr add "$(node_ip "$node")/24" dev eth0
    fi
    ip link set "$veth" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route replace default via "$BRIDGE_IP"
  done
}

# ---------------------------------------------------------------- engines

engine_running() {
  local pidfile pid
  pidfile="$(pidfile_of "$1")"
  [ -s "$pidfile" ] || return 1
  pid="$(cat "$pidfile")"
  [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--exec-root $RUN/$1/exec "
}

# The host folders each engine gets a folder of its own over (in its own
# mount namespace). One that the host lacks is made, noted, and removed by
# `down` if it is still empty.
PRIVATE_FOLDERS=(/etc/docker /run/docker /run/containerd)

mount_points_up() {
  for folder in "${PRIVATE_FOLDERS[@]}"; do
    if [ ! -d "$folder" ]; then
      mkdir -p "$folder"
      echo "$folder" >>"$ROOT/made-mount-points"
    fi
  done
}

start_engine() {
  local node="$1" k
  k="$(index_of "$node")"
  if engine_running "$node"; then return 0; fi
  mount_points_up
  local own="$ROOT/$node"
  mkdir -p "$own/docker" "$own/etc-docker" "$RUN/$node/exec" "$RUN/$node/run-docker" "$RUN/$node/run-containerd"
  # No flags duplicated in a daemon.json: the host's /etc/docker/daemon.json
  # (if any) is not read, since /etc/docker is the node's own folder.
  echo '{}' >"$own/daemon.json"
  log "$node: starting dockerd ($(node_ip "$node"), log $own/dockerd.log)"
  # nsenter, not `ip netns exec`: that remounts /sys, which hides the cgroup
  # mounts, and dockerd stops with "Devices cgroup isn't mounted".
  # setsid and plain files for every stream: the engine outlives this script
  # and holds no pipe of whoever ran it.
  setsid nsenter --net="/run/netns/$(netns_of "$node")" -- \
    unshare --mount --uts --propagation private -- \
    sh -c 'mount --bind "$1" /etc/docker && mount --bind "$2" /run/docker && mount --bind "$3" /run/containerd && hostname "$4" && shift 4 && exec "$@"' \
    node-setup "$own/etc-docker" "$RUN/$node/run-docker" "$RUN/$node/run-containerd" "$(hostname_of "$node")" \
    dockerd \
    --config-file "$own/daemon.json" \
    --data-root "$own/docker" \
    --exec-root "$RUN/$node/exec" \
    --host "unix://$(socket_of "$node")" \
    --pidfile "$(pidfile_of "$node")" \
    --cgroup-parent "$(cgroup_of "$node")" \
    --bip "10.220.$k.1/24" \
    --default-address-pool "base=10.23$k.0.0/16,size=24" \
    --label "io.funker.cluster.node=$node" \
    --insecure-registry "$REGISTRY" \
    --swarm-default-advertise-addr "$(node_ip "$node")" \
    >"$own/dockerd.log" 2>&1 </dev/null 9>&- &
}

wait_engine() {
  local node="$1"
  for _ in $(seq 1 "$READY_SECONDS"); do
    ndocker "$node" info >/dev/null 2>&1 && return 0
    engine_running "$node" || { sleep 1; engine_running "$node" || break; }
    sleep 1
  done
  tail -20 "$ROOT/$node/dockerd.log" >&2 || true
  die "$node: dockerd did not come up; see $ROOT/$node/dockerd.log"
}

# Every process of a node: those in its network namespace (dockerd,
# containerd, shims, docker-proxy) and those in its cgroups (containers).
node_pids() {
  local node="$1" cgroup
  cgroup="$(cgroup_of "$node")"
  {
    if [ -e "/run/netns/$(netns_of "$node")" ]; then ip netns pids "$(netns_of "$node")" 2>/dev/null || true; fi
    for controller in /sys/fs/cgroup/*/; do
      if [ -d "$controller$cgroup" ]; then find "$controller$cgroup" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
    done
  } | sort -un
}

# SIGKILL to every process of the node at once, as a power cut: no container
# is stopped, no connection closed politely by a process.
kill_node() {
  local node="$1" pids
  for _ in $(seq 1 20); do
    pids="$(node_pids "$node")"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.2
  done
  log "$node: processes left after SIGKILL: $(node_pids "$node" | tr '\n' ' ')"
  return 1
}

remove_cgroups() {
  local cgroup
  cgroup="$(cgroup_of "$1")"
  for controller in /sys/fs/cgroup/*/; do
    if [ -d "$controller$cgroup" ]; then find "$controller$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
}

# ---------------------------------------------------------------- swarm

swarm_state() { ndocker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

swarm_up() {
  if [ "$(swarm_state n1)" != active ]; then
    log "n1: docker swarm init"
    ndocker n1 swarm init --advertise-addr "$(node_ip n1)" --listen-addr "$(node_ip n1):2377" --default-addr-pool 10.240.0.0/16 >/dev/null
  fi
  local worker_token manager_token
  worker_token="$(ndocker n1 swarm join-token -q worker)"
  manager_token="$(ndocker n1 swarm join-token -q manager)"
  for node in n2 n3; do
    [ "$(swarm_state "$node")" = active ] && continue
    local token="$worker_token" role=worker
    if [ "$MANAGERS" = 3 ]; then token="$manager_token"; role=manager; fi
    log "$node: docker swarm join as $role"
    ndocker "$node" swarm join --token "$token" --advertise-addr "$(node_ip "$node")" --listen-addr "$(node_ip "$node"):2377" "$(node_ip n1):2377" >/dev/null
  done
  for _ in $(seq 1 "$READY_SECONDS"); do
    [ "$(ndocker n1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = 3 ] && break
    sleep 1
  done
  [ "$(ndocker n1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = 3 ] || { ndocker n1 node ls >&2; die "the three nodes are not Ready"; }
  # A node label per engine, so placement can be read and constrained by name.
  for node in "${NODES[@]}"; do
    local id
    id="$(ndocker "$node" info --format '{{.Swarm.NodeID}}')"
    ndocker n1 node update --label-add "io.funker.cluster.node=$node" "$id" >/dev/null
  done
}

# ---------------------------------------------------------------- registry and base image

# Debian's distribution registry, unpacked from its package (installing it
# would start a registry on the host), as a one-layer image.
registry_up() {
  local package="$ROOT/registry-package"
  if [ ! -x "$package/usr/bin/docker-registry" ]; then
    log "apt-get download docker-registry"
    mkdir -p "$package"
    (cd "$ROOT" && apt-get download -q docker-registry >/dev/null 2>&1) || { apt-get update -qq && (cd "$ROOT" && apt-get download -q docker-registry >/dev/null); }
    dpkg-deb -x "$ROOT"/docker-registry_*.deb "$package"
    rm -f "$ROOT"/docker-registry_*.deb
  fi
  if ! ndocker n1 image inspect "$REGISTRY_IMAGE" >/dev/null 2>&1; then
    local image="$ROOT/registry-image"
    rm -rf "$image"
    install -D -m 0755 "$package/usr/bin/docker-registry" "$image/bin/registry"
    for library in $(ldd "$package/usr/bin/docker-registry" | grep -o '/[^ ]*'); do
      install -D -m 0755 "$(readlink -f "$library")" "$image$library"
    done
    install -D -m 0644 /dev/stdin "$image/etc/registry.yml" <<'YAML'
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: /var/lib/registry }
  delete: { enabled: true }
http: { addr: ":5000" }
YAML
    mkdir -p "$image/var/lib/registry" "$image/tmp"
    tar -C "$image" -c . | ndocker n1 import -c 'CMD ["/bin/registry", "serve", "/etc/registry.yml"]' - "$REGISTRY_IMAGE" >/dev/null
    rm -rf "$image"
  fi
  if [ -z "$(ndocker n1 ps -q --filter name=^funker-registry$)" ]; then
    ndocker n1 rm -f funker-registry >/dev/null 2>&1 || true
    mkdir -p "$ROOT/registry"
    log "n1: registry at $REGISTRY"
    ndocker n1 run -d --name funker-registry --restart always -p "$REGISTRY_PORT:5000" \
      -v "$ROOT/registry:/var/lib/registry" "$REGISTRY_IMAGE" >/dev/null
  fi
  for _ in $(seq 1 30); do
    registry_answers && return 0
    sleep 0.5
  done
  die "the registry at $REGISTRY does not answer"
}

# GET /v2/ answered 200, through bash's own /dev/tcp (no curl needed).
registry_answers() {
  local status
  status="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1#*:}" && printf "GET /v2/ HTTP/1.0\r\n\r\n" >&3 && head -1 <&3' registry "$REGISTRY" 2>/dev/null || true)"
  [[ "$status" == *" 200 "* ]]
}

# The base of every Funker image, from the host engine into the registry; every node pulls it.
base_image_up() {
  local pushed="$REGISTRY/$BASE_TAG"
  if ! ndocker n1 image inspect "$BASE_TAG" >/dev/null 2>&1; then
    docker image inspect "$BASE_TAG" >/dev/null 2>&1 || die "the host engine has no $BASE_TAG: run docker/setup-docker.sh first"
    log "n1: loading $BASE_TAG from the host engine"
    docker save "$BASE_TAG" | ndocker n1 load >/dev/null
  fi
  ndocker n1 tag "$BASE_TAG" "$pushed"
  ndocker n1 push "$pushed" >/dev/null
  for node in n2 n3; do
    if ! ndocker "$node" image inspect "$BASE_TAG" >/dev/null 2>&1; then
      ndocker "$node" pull -q "$pushed" >/dev/null
      ndocker "$node" tag "$pushed" "$BASE_TAG"
    fi
  done
}

# ---------------------------------------------------------------- commands

up() {
  local started=$SECONDS
  command -v dockerd >/dev/null || die "no dockerd: run docker/setup-docker.sh first"
  if ! command -v ip >/dev/null; then
    log "apt-get install iproute2"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
  fi
  mkdir -p "$ROOT" "$RUN"
  # One run at a time on this machine.
  exec 9>"$RUN/lock"
  flock -n 9 || die "another cluster.sh holds $RUN/lock"
  check_owner use
  if [ -n "${FUNKER_CLUSTER_OWNER:-}" ]; then echo "$FUNKER_CLUSTER_OWNER" >"$RUN/owner"; fi
  network_up
  for node in "${NODES[@]}"; do start_engine "$node"; done
  for node in "${NODES[@]}"; do wait_engine "$node"; done
  swarm_up
  registry_up
  base_image_up
  log "ready in $((SECONDS - started)) s: $MANAGERS manager(s), nodes $(ndocker n1 node ls --format '{{.Hostname}}={{.Status}}/{{.Availability}}/{{if .ManagerStatus}}{{.ManagerStatus}}{{else}}worker{{end}}' | sort | tr '\n' ' '), registry $REGISTRY"
}

down() {
  local started=$SECONDS
  check_owner remove
  for node in "${NODES[@]}"; do
    # Everything the node ran is thrown away, so nothing needs a polite stop:
    # its mounts, shim sockets and netns files lived in its own mount
    # namespace and folders, and go with its processes.
    kill_node "$node" || true
    remove_cgroups "$node"
    # Deleting the namespace destroys its end of the veth, and the kernel
    # then removes the other end by itself, at a moment of its choosing.
    ip netns del "$(netns_of "$node")" 2>/dev/null || true
    ip link del "$(veth_of "$node")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -C "${FORWARD_RULE[@]}" 2>/dev/null; do iptables -D "${FORWARD_RULE[@]}"; done
  if [ -f "$ROOT/made-mount-points" ]; then
    while read -r folder; do rmdir "$folder" 2>/dev/null || true; done <"$ROOT/made-mount-points"
  fi
  # The engines' mounts lived in their own mount namespaces, gone with their
  # processes; anything still mounted under our folders is left over from a
  # crash and is let go before the folders are removed.
  for folder in "$ROOT" "$RUN"; do
    { grep -o " $folder/[^ ]* " /proc/self/mountinfo || true; } | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
    rm -rf --one-file-system "$folder"
  done
  local left=()
  for node in "${NODES[@]}"; do
    [ -z "$(node_pids "$node")" ] || left+=("processes of $node: $(node_pids "$node" | tr '\n' ' ')")
    [ ! -e "/run/netns/$(netns_of "$node")" ] || left+=("network namespace $(netns_of "$node")")
    for _ in $(seq 1 20); do ip link show "$(veth_of "$node")" >/dev/null 2>&1 || break; sleep 0.1; done
    ! ip link show "$(veth_of "$node")" >/dev/null 2>&1 || left+=("interface $(veth_of "$node")")
    for controller in /sys/fs/cgroup/*/; do [ ! -d "$controller$(cgroup_of "$node")" ] || left+=("cgroup $controller$(cgroup_of "$node")"); done
  done
  ! ip link show "$BRIDGE" >/dev/null 2>&1 || left+=("bridge $BRIDGE")
  ! iptables -C "${FORWARD_RULE[@]}" 2>/dev/null || left+=("iptables rule")
  for folder in "$ROOT" "$RUN"; do [ ! -e "$folder" ] || left+=("folder $folder"); done
  [ "${#left[@]}" = 0 ] || die "left behind: ${left[*]}"
  log "down in $((SECONDS - started)) s: nothing of the cluster is left"
}

describe() {
  local first=1
  printf '{"managers":%s,"registry":"%s","bridge":"%s","nodes":[' "$MANAGERS" "$REGISTRY" "$BRIDGE"
  for node in "${NODES[@]}"; do
    [ $first = 1 ] || printf ','
    first=0
    printf '{"name":"%s","hostname":"%s","ip":"%s","socket":"%s","netns":"%s","veth":"%s","cgroupParent":"%s"}' \
      "$node" "$(hostname_of "$node")" "$(node_ip "$node")" "$(socket_of "$node")" "$(netns_of "$node")" "$(veth_of "$node")" "$(cgroup_of "$node")"
  done
  printf '],"root":"%s","baseImage":"%s"}\n' "$ROOT" "$BASE_TAG"
}

check_node() { case "${1:-}" in n2 | n3) ;; n1) die "n1 runs the registry (and is the first manager): fail n2 or n3" ;; *) die "which node? n2 or n3" ;; esac; }

case "${1:-}" in
  up) up ;;
  down) down ;;
  describe) describe ;;
  cut) check_node "${2:-}"; ip link set "$(veth_of "$2")" down ;;
  restore) check_node "${2:-}"; ip link set "$(veth_of "$2")" up ;;
  power-off) check_node "${2:-}"; kill_node "$2" || die "$2 did not go down" ;;
  power-on) check_node "${2:-}"; start_engine "$2"; wait_engine "$2" ;;
  *) printf 'Usage: %s up|down|describe|cut <node>|restore <node>|power-off <node>|power-on <node>\n' "$0" >&2; exit 2 ;;
esac
