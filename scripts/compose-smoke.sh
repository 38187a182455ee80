#!/usr/bin/env bash
# Builds the three Hookline images from their Dockerfiles, brings up docker-compose.yml, sends a
# signed Petstore webhook, a signed Bunjang webhook and a callback request through the ingress,
# reads the orders back from the worker's query API, restarts a worker and checks it is healthy
# and processing again, then tears the stack down (always). CI runs it as root on a fresh Debian 12.
#
#   bash scripts/compose-smoke.sh
#
# What it needs and does, in order:
# - a Docker engine: when none answers it installs Debian's docker.io and starts dockerd in the
#   background (overlay2, else vfs), logging to $CACHE/dockerd.log;
# - Compose: `docker compose` (v2) when present, else Debian's docker-compose 1.29 (installed when
#   missing). The compose file works with both;
# - the base images: where no registry can be reached, it builds local stand-ins for the BASE
#   images only (golang, distroless static, nats, redis) from a Debian bookworm rootfs made with
#   debootstrap (cached in $CACHE) and the host's Go (/usr/local/go), tagged with the exact names
#   the Dockerfiles and the compose file use. A base image already present is used as it is. The
#   project's Dockerfiles and compose file are used unmodified (checked with git).
#
# Variables: HOOKLINE_SMOKE_CACHE (default /var/cache/hookline-smoke), HOOKLINE_SMOKE_BUILDKIT
# (1 builds with BuildKit, default 0: the classic builder), HOOKLINE_SMOKE_KEEP=1 leaves the stack
# up. Host ports are picked free from 127.0.0.1 and passed through the compose file's variables.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE=${HOOKLINE_SMOKE_CACHE:-/var/cache/hookline-smoke}
PROJECT=hookline-smoke
START=$(date +%s)
mkdir -p "$CACHE"

log() { printf '[smoke %4ss] %s\n' "$(($(date +%s) - START))" "$*"; }
die() {
  log "FAIL: $*" >&2
  exit 1
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
apt_install() {
  log "apt-get install $*"
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# Docker engine

start_docker() {
  if docker info >/dev/null 2>&1; then
    log "docker engine already running: $(docker version -f '{{.Server.Version}}')"
    return
  fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  local driver
  for driver in overlay2 vfs; do
    log "starting dockerd (storage driver $driver), log $CACHE/dockerd.log"
    nohup dockerd --storage-driver="$driver" >"$CACHE/dockerd.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 60); do
      if docker info >/dev/null 2>&1; then
        log "dockerd $pid up: $(docker version -f '{{.Server.Version}}'), storage $(docker info -f '{{.Driver}}')"
        return
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "dockerd did not start with $driver:"
    tail -5 "$CACHE/dockerd.log" >&2
  done
  die "no Docker engine could be started (see $CACHE/dockerd.log)"
}

pick_compose() {
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  else
    command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
    COMPOSE=(docker-compose)
  fi
  log "compose: ${COMPOSE[*]} $("${COMPOSE[@]}" version --short 2>/dev/null || true)"
}

# ---------------------------------------------------------------------------------------------
# Stand-ins for the base images

# The names the project's files use, read from them so the stand-ins follow any version bump.
base_images() {
  grep -h '^FROM ' services/*/Dockerfile | awk '{for (i = 2; i <= NF; i++) if ($i !~ /^--/) { print $i; break }}'
  grep -E '^\s+image: (nats|redis):' docker-compose.yml | awk '{print $2}'
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# One Debian bookworm rootfs with a shell, CA certificates, wget, nats-server and redis: the
# stand-ins for the Go builder, NATS and Redis derive from it.
ROOTFS_IMAGE=hookline-smoke/bookworm-rootfs:1
rootfs_image() {
  have_image "$ROOTFS_IMAGE" && return
  local tarball=$CACHE/bookworm-rootfs-1.tar.gz
  if [ ! -s "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    local dir
    dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    log "debootstrap bookworm into $dir (cached as $tarball)"
    debootstrap --variant=minbase --include=ca-certificates,wget bookworm "$dir" http://deb.debian.org/debian \
      >"$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed (see $CACHE/debootstrap.log)"
    # Packages must not start their services inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod +x "$dir/usr/sbin/policy-rc.d"
    chroot "$dir" apt-get install -y -qq --no-install-recommends nats-server redis-server redis-tools \
      >>"$CACHE/debootstrap.log" 2>&1 || die "apt-get in the rootfs failed (see $CACHE/debootstrap.log)"
    chroot "$dir" apt-get clean
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/*
    tar -C "$dir" -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$dir"
  fi
  log "docker import $tarball as $ROOTFS_IMAGE"
  docker import "$tarball" "$ROOTFS_IMAGE" >/dev/null
}

# build_standin NAME CONTEXT: builds the Dockerfile on stdin (classic builder, no registry).
build_standin() {
  DOCKER_BUILDKIT=0 docker build -q -t "$1" -f - "$2" >/dev/null
  log "stand-in $1 built"
}

standin() {
  local image=$1 ctx
  ctx=$(mktemp -d)
  case "$image" in
  golang:*)
    rootfs_image
    local want have
    want=${image#golang:}
    want=${want%%-*}
    have=$(/usr/local/go/bin/go env GOVERSION)
    [[ "$have" == "go$want" || "$have" == "go$want".* ]] || die "$image needs Go $want, the host has $have"
    cp -a /usr/local/go "$ctx/go"
    build_standin "$image" "$ctx" <<EOF
FROM $ROOTFS_IMAGE
COPY go /usr/local/go
ENV GOLANG_VERSION=${have#go} GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /go
EOF
    ;;
  gcr.io/distroless/static*)
    # What distroless static:nonroot holds: users root, nonroot (65532) and nobody, CA
    # certificates, tzdata-free /etc, /tmp; no shell.
    mkdir -p "$ctx/fs/etc/ssl/certs" "$ctx/fs/tmp" "$ctx/fs/home/nonroot"
    printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$ctx/fs/etc/passwd"
    printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$ctx/fs/etc/group"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/fs/etc/ssl/certs/"
    chmod 1777 "$ctx/fs/tmp"
    chown 65532:65532 "$ctx/fs/home/nonroot"
    build_standin "$image" "$ctx" <<EOF
FROM scratch
COPY fs/ /
USER 65532:65532
WORKDIR /home/nonroot
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EOF
    ;;
  nats:*)
    rootfs_image
    build_standin "$image" "$ctx" <<EOF
FROM $ROOTFS_IMAGE
EXPOSE 4222 6222 8222
CMD ["nats-server", "--jetstream"]
EOF
    ;;
  redis:*)
    rootfs_image
    # Like the official image: data in /data, and protected mode off when no config file is
    # given (the container's port is only reachable through the compose network and loopback).
    printf '#!/bin/sh\nif [ "$1" = redis-server ]; then shift; set -- redis-server --protected-mode no "$@"; fi\nexec "$@"\n' >"$ctx/entrypoint.sh"
    chmod +x "$ctx/entrypoint.sh"
    build_standin "$image" "$ctx" <<EOF
FROM $ROOTFS_IMAGE
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
    ;;
  *) die "no stand-in recipe for base image $image" ;;
  esac
  rm -rf "$ctx"
}

prepare_bases() {
  local image
  for image in $(base_images | sort -u); do
    if have_image "$image"; then
      log "base image $image present"
    elif timeout 30 docker pull -q "$image" >/dev/null 2>&1; then
      log "base image $image pulled"
    else
      log "base image $image unreachable: building a local stand-in"
      standin "$image"
    fi
  done
}

if [ "${1:-}" = --bases-only ]; then
  start_docker
  prepare_bases
  exit 0
fi
