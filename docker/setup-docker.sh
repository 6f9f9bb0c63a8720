#!/usr/bin/env bash
# Brings up what Funker's Docker stage needs on a Debian 12 machine without
# systemd and without a reachable container registry:
#   - Debian's docker.io (engine + client), docker-compose 1.29 and a static busybox;
#   - dockerd started in the background, and a one-node Swarm on loopback;
#   - the attachable overlay network `funker`;
#   - a local `node:20-bookworm-slim` built from the host's own Node binary, so
#     that Funker's Dockerfiles (FROM node:20-bookworm-slim) build offline;
#   - a local `postgres:15-bookworm` built from Debian's postgresql
#     (build-postgres-image.sh), for the voting app's database.
# Every step checks before it acts, so the script is safe to rerun. Needs root.
set -euo pipefail

NETWORK="${FUNKER_NETWORK:-funker}"
BASE_TAG="${FUNKER_BASE_IMAGE:-node:20-bookworm-slim}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[docker-setup] %s\n' "$*" >&2; }

packages=()
command -v dockerd >/dev/null 2>&1 || packages+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || packages+=(docker-compose)
[ -x /bin/busybox ] || packages+=(busybox-static)
command -v node >/dev/null 2>&1 || { log "Node is required: it is copied into the base image"; exit 1; }
if [ "${#packages[@]}" -gt 0 ]; then
  log "apt-get install ${packages[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# No systemd: start dockerd detached (setsid, so it outlives this shell).
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: $DOCKERD_LOG)"
  setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see $DOCKERD_LOG"; tail -20 "$DOCKERD_LOG" >&2; exit 1; }
fi

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  log "docker swarm init"
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null
fi

docker network inspect "$NETWORK" >/dev/null 2>&1 \
  || docker network create --driver overlay --attachable "$NETWORK" >/dev/null

# The base image: the host's node, every library it links, npm, and busybox
# for /bin/sh, laid out as the official image (user node, uid 1000).
if [ "${REBUILD_BASE:-0}" = 1 ] || ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  log "building $BASE_TAG from the host's node $(node --version)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  node_bin="$(readlink -f "$(command -v node)")"
  install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/bin"
  ln -s ../local/bin/node "$root/usr/bin/node"
  for library in $(ldd "$node_bin" | grep -o '/[^ ]*'); do
    install -D -m 0755 "$(readlink -f "$library")" "$root$library"
  done
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  if [ -d "$npm_dir" ]; then
    mkdir -p "$root/usr/local/lib/node_modules"
    cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  fi
  install -D -m 0755 /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  ln -sf ../../bin/busybox "$root/usr/bin/env"
  mkdir -p "$root/etc" "$root/tmp" "$root/root" "$root/home/node"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  chown 1000:1000 "$root/home/node"
  tar -C "$root" -c . | docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c "ENV NODE_VERSION=$(node --version | tr -d v)" \
    -c 'CMD ["node"]' - "$BASE_TAG" >/dev/null
  rm -rf "$root"
  trap - EXIT
fi

# Postgres for the voting app's stack: postgres:15-bookworm, built the same way from Debian's postgresql.
bash "$(dirname "$0")/build-postgres-image.sh"

log "ready: engine $(docker version --format '{{.Server.Version}}'), swarm $(docker info --format '{{.Swarm.LocalNodeState}}'), network $NETWORK, base image $BASE_TAG"
