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
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1 apt-get install -y -qq --no-install-recommends "$@" \
    >>"$CACHE/apt.log" 2>&1 || die "apt-get install $* failed (see $CACHE/apt.log)"
}

# ---------------------------------------------------------------------------------------------
# Docker engine

start_docker() {
  if docker info >/dev/null 2>&1; then
    log "docker engine already running: $(docker version -f '{{.Server.Version}}')"
    return
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
    # Under systemd the package starts the engine itself.
    for _ in $(seq 1 20); do
      if docker info >/dev/null 2>&1; then
        log "docker engine started by the docker.io package: $(docker version -f '{{.Server.Version}}')"
        return
      fi
      sleep 0.5
    done
  fi
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
    # The host's trust store: the module proxy may sit behind a TLS proxy whose CA only the host
    # trusts.
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
    build_standin "$image" "$ctx" <<EOF
FROM $ROOTFS_IMAGE
COPY go /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
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

# ---------------------------------------------------------------------------------------------
# The stack

# A free loopback port at or above $1.
pick_port() {
  local p=$1
  while listening "$p"; do p=$((p + 1)); done
  echo "$p"
}

compose() { "${COMPOSE[@]}" -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }

teardown() {
  local rc=$?
  if [ "${HOOKLINE_SMOKE_KEEP:-0}" = 1 ]; then
    log "HOOKLINE_SMOKE_KEEP=1: leaving project $PROJECT up"
  elif [ -n "${COMPOSE_UP:-}" ]; then
    if [ "$rc" != 0 ]; then
      log "failed: the last log lines of every service"
      compose ps >&2 || true
      compose logs --no-color --tail=30 >&2 || true
    fi
    log "tearing down project $PROJECT (containers, network, volumes)"
    compose down -v --remove-orphans >/dev/null 2>&1 || log "compose down failed"
  fi
  log "total $(($(date +%s) - START))s, exit $rc"
  exit "$rc"
}

# Dockerfiles and compose file as committed: the script never edits them, and says whether the
# checkout differs from git.
check_unmodified() {
  local files=(services/ingress/Dockerfile services/worker/Dockerfile services/dispatcher/Dockerfile docker-compose.yml)
  if git rev-parse --git-dir >/dev/null 2>&1; then
    if git diff --quiet HEAD -- "${files[@]}"; then
      log "Dockerfiles and docker-compose.yml unmodified (as in commit $(git rev-parse --short HEAD))"
    else
      log "WARNING: the checkout's Dockerfiles or compose file differ from HEAD (local edits); using them as they are"
    fi
  fi
  sha256sum "${files[@]}" | awk '{print substr($1, 1, 12) "  " $2}'
}

# wait_healthy N: until N containers of the project report healthy (each has a healthcheck).
wait_healthy() {
  local want=$1 deadline=$(($(date +%s) + ${2:-180})) ids healthy states
  while :; do
    ids=$(compose ps -q)
    healthy=0
    states=""
    for id in $ids; do
      local st
      st=$(docker inspect -f '{{.Name}}={{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      states+=" ${st#/}"
      [[ $st == *=healthy ]] && healthy=$((healthy + 1))
    done
    if [ "$healthy" -ge "$want" ]; then
      log "all services healthy ($healthy containers):$states"
      return
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "not healthy in time:$states"
    sleep 2
  done
}

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
hmac_hex() { printf '%s' "$2" | openssl dgst -sha256 -hmac "$1" -hex | awk '{print $NF}'; }
ulid() { # Crockford base32: 48-bit milliseconds, then 80 random bits
  local a=0123456789ABCDEFGHJKMNPQRSTVWXYZ t out="" i
  t=$(date +%s%3N)
  for i in 9 8 7 6 5 4 3 2 1 0; do out+=${a:$(((t >> (5 * i)) & 31)):1}; done
  for i in $(seq 1 16); do out+=${a:$((RANDOM & 31)):1}; done
  echo "$out"
}

# post URL EXPECTED_STATUS CURL_ARGS…: fails unless the answer has that status.
post() {
  local url=$1 want=$2 got
  shift 2
  got=$(curl -sS -o "$WORK/body" -w '%{http_code}' -X POST "$@" "$url") || die "POST $url: curl failed"
  [ "$got" = "$want" ] || die "POST $url answered $got, want $want: $(cat "$WORK/body")"
}

send_petstore() { # ORDER STATUS
  local ts body
  ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  body=$(printf '{"eventId":"smoke-%s-%s","eventType":"order.statusChanged","timestamp":"%s","data":{"order":{"id":"%s","status":"%s"},"newStatus":"%s","changedAt":"%s"}}' \
    "$1" "$2" "$ts" "$1" "$2" "$2" "$ts")
  post "$INGRESS/webhooks/petstore" 200 -H 'Content-Type: application/json' \
    -H "X-Webhook-Signature: sha256=$(hmac_hex "$PETSTORE_SECRET" "$body")" --data-binary "$body"
}

send_bunjang() { # ORDER ITEM STATUS
  local t body
  t=$(date +%s)
  body=$(printf '{"eventId":"%s","eventType":"order.status.changed","payloadVersion":"v1","data":{"orderId":%s,"orderItems":[{"orderItemId":%s,"pid":500001,"orderStatus":"%s"}]}}' \
    "$(ulid)" "$1" "$2" "$3")
  post "$INGRESS/webhooks/bunjang" 204 -H 'Content-Type: application/json' \
    -H "X-Bun-Webhook-Signature: t=$t,v0=$(hmac_hex "$BUNJANG_SECRET" "$t.$body")" --data-binary "$body"
}

send_callback() { # ORDER
  local now header payload sig
  now=$(date +%s)
  header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  payload=$(printf '{"sub":"compose-smoke","iat":%s,"exp":%s}' "$now" "$((now + 300))" | b64url)
  sig=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)
  post "$INGRESS/v1/orders/$1" 201 -H 'Content-Type: application/json' -H "Authorization: Bearer $header.$payload.$sig" \
    --data-binary "{\"amount\":\"738.05\",\"currency\":\"USD\",\"timestamp\":\"$now\",\"callbackUrl\":\"http://127.0.0.1:9/compose-smoke\"}"
}

# wait_order WORKER_URL PROVIDER ORDER STATUS: until the query API shows the order in STATUS.
wait_order() {
  local url="$1/v1/orders/$2/$3" got=""
  for _ in $(seq 1 60); do
    got=$(curl -sS "$url" 2>/dev/null || true)
    if [[ $got == *"\"status\":\"$4\""* ]]; then
      log "order $2/$3 is $4: $got"
      return
    fi
    sleep 0.5
  done
  die "GET $url never showed status $4 (last answer: ${got:-none})"
}

worker_url() { # CONTAINER
  local hp
  hp=$(docker port "$1" 9091/tcp | head -1) || die "no host port for worker $1"
  echo "http://127.0.0.1:${hp##*:}"
}

name_of() { docker inspect -f '{{.Name}}' "$1" | tr -d /; }

main() {
  start_docker
  pick_compose
  prepare_bases
  [ "${1:-}" = --bases-only ] && exit 0

  WORK=$(mktemp -d)
  export HOOKLINE_NATS_PORT HOOKLINE_NATS_MONITOR_PORT HOOKLINE_REDIS_PORT HOOKLINE_HTTP_PORT \
    HOOKLINE_INGRESS_ADMIN_PORT HOOKLINE_DISPATCHER_ADMIN_PORT HOOKLINE_CALLBACK_ALLOW_PRIVATE=true \
    HOOKLINE_PETSTORE_SECRETS HOOKLINE_BUNJANG_SECRETS HOOKLINE_JWT_SECRET
  HOOKLINE_NATS_PORT=$(pick_port 24222)
  HOOKLINE_NATS_MONITOR_PORT=$(pick_port 28222)
  HOOKLINE_REDIS_PORT=$(pick_port 26379)
  HOOKLINE_HTTP_PORT=$(pick_port 28080)
  HOOKLINE_INGRESS_ADMIN_PORT=$(pick_port 29090)
  HOOKLINE_DISPATCHER_ADMIN_PORT=$(pick_port 29092)
  PETSTORE_SECRET=smoke-petstore-$RANDOM$RANDOM
  BUNJANG_SECRET=smoke-bunjang-$RANDOM$RANDOM
  JWT_SECRET=smoke-jwt-$RANDOM$RANDOM
  HOOKLINE_PETSTORE_SECRETS=$PETSTORE_SECRET HOOKLINE_BUNJANG_SECRETS=$BUNJANG_SECRET HOOKLINE_JWT_SECRET=$JWT_SECRET
  INGRESS=http://127.0.0.1:$HOOKLINE_HTTP_PORT

  if [ "${HOOKLINE_SMOKE_BUILDKIT:-0}" = 1 ]; then
    export DOCKER_BUILDKIT=1 COMPOSE_DOCKER_CLI_BUILD=1
  else
    export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
  fi
  local builder=classic
  [ "$DOCKER_BUILDKIT" = 1 ] && builder=BuildKit

  check_unmodified
  trap teardown EXIT
  local t0
  t0=$(date +%s)
  log "building ingress, worker and dispatcher from services/*/Dockerfile ($builder builder)"
  compose build >"$CACHE/build.log" 2>&1 || {
    tail -40 "$CACHE/build.log" >&2
    die "compose build failed (see $CACHE/build.log)"
  }
  log "images built from the unmodified Dockerfiles in $(($(date +%s) - t0))s: $(docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^hookline/' | tr '\n' ' ')"
  check_unmodified >/dev/null

  COMPOSE_UP=1
  t0=$(date +%s)
  compose up -d --no-build >"$CACHE/up.log" 2>&1 || {
    cat "$CACHE/up.log" >&2
    die "compose up failed"
  }
  log "compose up -d (ports: ingress $HOOKLINE_HTTP_PORT, nats $HOOKLINE_NATS_PORT, redis $HOOKLINE_REDIS_PORT)"
  local workers
  workers=$(compose ps -q worker | wc -l)
  [ "$workers" = 2 ] || die "$workers worker containers, want 2 (deploy.replicas)"
  wait_healthy 6
  log "stack healthy $(($(date +%s) - t0))s after up"

  local w1 w2 pet=smoke-pet-$RANDOM bun=$((RANDOM * 1000 + RANDOM)) cb=smoke-cb-$RANDOM
  w1=$(compose ps -q worker | sed -n 1p)
  w2=$(compose ps -q worker | sed -n 2p)
  send_petstore "$pet" PLACED
  send_petstore "$pet" APPROVED
  send_bunjang "$bun" "${bun}1" PAYMENT_RECEIVED
  send_callback "$cb"
  log "signed petstore and bunjang webhooks and a JWT callback request accepted (200, 204, 201)"
  wait_order "$(worker_url "$w1")" petstore "$pet" APPROVED
  wait_order "$(worker_url "$w2")" bunjang "$bun" APPROVED
  log "webhooks applied: both orders read back from the worker query API"

  log "restarting worker container $(name_of "$w1")"
  docker restart -t 20 "$w1" >/dev/null
  wait_healthy 6
  # With the other worker stopped, only the restarted one can apply the next webhooks.
  log "stopping $(name_of "$w2") so that the restarted worker alone must process the next webhooks"
  docker stop -t 20 "$w2" >/dev/null
  send_petstore "$pet" SHIPPED
  send_bunjang "$bun" "${bun}1" SHIPPED
  wait_order "$(worker_url "$w1")" petstore "$pet" SHIPPED
  wait_order "$(worker_url "$w1")" bunjang "$bun" SHIPPED
  docker start "$w2" >/dev/null
  wait_healthy 6
  log "worker restart survived: the restarted worker is healthy and applied the webhooks sent after it, both workers ready again"

  # NATS down: readiness (the HEALTHCHECK's probe) fails, and a worker started without NATS says
  # which NATS it cannot reach.
  local nats
  nats=$(compose ps -q nats)
  log "stopping NATS: the probe must fail and a worker started meanwhile must name the NATS URL"
  docker stop -t 5 "$nats" >/dev/null
  local i
  for i in $(seq 1 30); do
    docker exec "$w1" /usr/local/bin/healthcheck http://127.0.0.1:9091/readyz 2>/dev/null || break
    sleep 1
  done
  [ "$i" -lt 30 ] || die "the worker's /readyz still answers 200 with NATS stopped"
  docker restart -t 20 "$w1" >/dev/null
  for i in $(seq 1 30); do
    docker logs "$w1" 2>&1 | grep -q 'nats nats://nats:4222 unreachable' && break
    sleep 1
  done
  [ "$i" -lt 30 ] || die "a worker started without NATS does not log the NATS URL it cannot reach"
  log "with NATS down the healthcheck probe fails and the worker logs: $(docker logs "$w1" 2>&1 | grep -m1 -o '"error":"nats nats://nats:4222 unreachable[^"]*"')"
  docker start "$nats" >/dev/null
  wait_healthy 6
  log "NATS back: all services healthy again"
  log "PASS"
}

main "$@"
