#!/usr/bin/env bash
# Builds the image `postgres:15-bookworm` offline, from Debian's postgresql
# package on this machine, as setup-docker.sh builds Node's base image from
# the host's node: no registry is needed. It keeps the official image's
# interface where the voting app and most users touch it:
#   - Postgres 15 listening on 5432, user and database `postgres`;
#   - POSTGRES_HOST_AUTH_METHOD=trust, or POSTGRES_PASSWORD (scram-sha-256),
#     one of them required on first start, as the official image asks;
#   - the data in PGDATA, /var/lib/postgresql/data by default, created by
#     initdb on first start (an empty named volume there takes the folder's
#     owner, postgres, from the image);
#   - STOPSIGNAL SIGINT: Postgres's fast shutdown.
# So a machine that can pull the official image may use it instead, and
# nothing else changes. The image is the host's Postgres binaries and share
# files, every library they link, the time zone data, busybox for /bin/sh,
# and an entry point (below). Installs Debian's postgresql and busybox-static
# when they are missing (apt). Safe to rerun: an existing image of the tag is
# kept unless REBUILD_POSTGRES=1. Needs root and a running Docker engine.
#   bash docker/build-postgres-image.sh
set -euo pipefail

TAG="${FUNKER_POSTGRES_IMAGE:-postgres:15-bookworm}"
VERSION=15
export DEBIAN_FRONTEND=noninteractive
log() { printf '[postgres-image] %s\n' "$*" >&2; }

if [ "${REBUILD_POSTGRES:-0}" != 1 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG exists; REBUILD_POSTGRES=1 builds it again"
  exit 0
fi

packages=()
[ -x "/usr/lib/postgresql/$VERSION/bin/postgres" ] || packages+=("postgresql-$VERSION")
[ -x /bin/busybox ] || packages+=(busybox-static)
if [ "${#packages[@]}" -gt 0 ]; then
  log "apt-get install ${packages[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
rootfs="$root/rootfs"
bin="/usr/lib/postgresql/$VERSION/bin"
mkdir -p "$rootfs$bin"
for program in postgres initdb pg_ctl pg_isready psql; do
  install -m 0755 "$bin/$program" "$rootfs$bin/$program"
done
# The server's modules, without the LLVM JIT (a 100 MB library; Postgres runs without it, as it does where JIT is not built).
mkdir -p "$rootfs/usr/lib/postgresql/$VERSION/lib"
for module in "/usr/lib/postgresql/$VERSION/lib"/*; do
  case "$(basename "$module")" in llvmjit* | bitcode) continue ;; esac
  cp -a "$module" "$rootfs/usr/lib/postgresql/$VERSION/lib/"
done
mkdir -p "$rootfs/usr/share/postgresql"
cp -a "/usr/share/postgresql/$VERSION" "$rootfs/usr/share/postgresql/$VERSION"
# Debian builds Postgres to read the system's time zone data.
cp -a /usr/share/zoneinfo "$rootfs/usr/share/zoneinfo"
# Every library the programs and the server's modules link, with the loader.
for file in "$rootfs$bin"/* "$rootfs/usr/lib/postgresql/$VERSION/lib"/*.so; do
  for library in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true); do
    [ -e "$rootfs$library" ] || install -D -m 0755 "$(readlink -f "$library")" "$rootfs$library"
  done
done
install -D -m 0755 /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/var/lib/postgresql/data" "$rootfs/var/run/postgresql" "$rootfs/usr/local/bin"
chmod 1777 "$rootfs/tmp"
# uid and gid 999, as in the official image.
printf 'root:x:0:0:root:/root:/bin/sh\npostgres:x:999:999::/var/lib/postgresql:/bin/sh\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\npostgres:x:999:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"

cat >"$rootfs/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
# First start: initdb into an empty PGDATA, with the authentication asked
# for; then Postgres in the foreground, listening on every address.
set -eu
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
[ "$#" -gt 0 ] && shift
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then
    method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
    printf '%s' "$POSTGRES_PASSWORD" >/tmp/pwfile
    set -- --pwfile=/tmp/pwfile "$@"
  elif [ "${POSTGRES_HOST_AUTH_METHOD:-}" = trust ]; then
    method=trust
  else
    echo "Database is uninitialized and superuser password is not specified: set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust" >&2
    exit 1
  fi
  mkdir -p "$PGDATA" && chmod 0700 "$PGDATA"
  if [ "${1:-}" = --pwfile=/tmp/pwfile ]; then shift; pwfile=--pwfile=/tmp/pwfile; else pwfile=; fi
  initdb -D "$PGDATA" -U "${POSTGRES_USER:-postgres}" --encoding=UTF8 --no-locale --auth-local=trust --auth-host="$method" $pwfile >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all $method" >>"$PGDATA/pg_hba.conf"
  echo "database initialised in $PGDATA (host authentication: $method)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
ENTRYPOINT
chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh"

cat >"$root/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
RUN chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql && chmod 0700 /var/lib/postgresql/data
ENV PATH=$bin:/usr/local/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data PG_MAJOR=$VERSION
USER postgres
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE

# The classic builder where Debian's docker.io has no buildx plugin (as funker build does).
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then export DOCKER_BUILDKIT=0; fi
log "building $TAG from the host's Postgres $("$bin/postgres" --version | awk '{print $3}')"
if ! docker build --quiet --tag "$TAG" --label io.funker.built-from=debian-postgresql "$root" >"$root/build.log" 2>&1; then
  cat "$root/build.log" >&2
  exit 1
fi
log "built $TAG ($(docker image inspect --format '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1 / 1000000}'))"
