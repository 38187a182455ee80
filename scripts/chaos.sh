#!/usr/bin/env bash
# Chaos run of the whole pipeline, from built binaries, against its own nats-server and
# redis-server on free loopback ports (temp dirs; nothing else on the machine is touched).
#
#   scripts/chaos.sh [seconds] [rate]      full run (default 60 s at 500 req/s); writes the
#                                          results into BENCHMARKS.md between the chaos markers
#   scripts/chaos.sh --short               CI run: 30 s at 300 req/s, BENCHMARKS.md untouched
#   options: --no-write (never touch BENCHMARKS.md), --write (write even with --short)
#
# It starts nats-server (JetStream, file store), redis-server (AOF, fsync always), one ingress,
# two workers and a dispatcher, runs `hookline bench` at a fixed rate with provider-style retries,
# and during the run, at 15/35/55/75 % of it:
#   1. kill -9 worker-1, start it again after CHAOS_DOWN seconds;
#   2. restart the ingress (SIGTERM, wait for it to exit, start);
#   3. kill -9 nats-server, start it again on the same port and store dir after CHAOS_DOWN s;
#   4. kill -9 redis-server, start it again on the same dir (the AOF reloads) after CHAOS_DOWN s.
# Every kill, start and recovery is logged with its UTC time and its offset into the load. Then it
# waits for the worker consumer to drain and runs `hookline verify`; it fails on any lost,
# duplicated or wrong-state order, on a message in the DLQ, on a service that died by itself, or
# when the bench got nothing acknowledged.
#
# Environment: CHAOS_CONNS (bench connections, 64), CHAOS_RETRIES (bench retries per request, 10),
# CHAOS_DOWN (seconds a killed worker, nats-server or redis-server stays down, 2),
# CHAOS_VERIFY_WAIT (longest wait for the drain, 2m), CHAOS_KEEP=1 (keep the temp dir with logs),
# CHAOS_INGRESS_SIGNAL (TERM), CHAOS_NATS_SIGNAL (KILL), CHAOS_REDIS_SIGNAL (KILL): how each is
# stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/chaos-lib.sh

chaos_args "$@"
if [ "$short" = 1 ]; then load_shape 30 300; else load_shape 60 500; fi
CONNS=${CHAOS_CONNS:-64}
RETRIES=${CHAOS_RETRIES:-10}
DOWN=${CHAOS_DOWN:-2}
VERIFY_WAIT=${CHAOS_VERIFY_WAIT:-2m}
INGRESS_SIG=${CHAOS_INGRESS_SIGNAL:-TERM}
NATS_SIG=${CHAOS_NATS_SIGNAL:-KILL}
REDIS_SIG=${CHAOS_REDIS_SIGNAL:-KILL}
for sig in "$INGRESS_SIG" "$NATS_SIG" "$REDIS_SIG"; do
  case $sig in TERM | KILL | INT) ;; *) echo "chaos: signals are TERM, INT or KILL, got $sig" >&2; exit 2 ;; esac
done
need_tools nats-server redis-server redis-cli curl go
chaos_init hookline-chaos
mkdir -p "$work/nats" "$work/redis"
servers="nats redis"

read -r NATS_PORT NATS_MON REDIS_PORT HTTP_PORT INGRESS_ADMIN DISPATCHER_ADMIN WORKER1_ADMIN WORKER2_ADMIN <<<"$(free_ports 8)"
[ -n "${WORKER2_ADMIN:-}" ] || die "could not find free ports"
NATS_URL=nats://127.0.0.1:$NATS_PORT
export NATS_URL REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export HOOKLINE_PETSTORE_SECRETS=chaos-petstore-secret HOOKLINE_BUNJANG_SECRETS=chaos-bunjang-secret HOOKLINE_SHOPIFY_SECRETS=chaos-shopify-secret
export HOOKLINE_JWT_SECRET=chaos-jwt-secret HOOKLINE_CALLBACK_SECRET=chaos-callback-secret
export HOOKLINE_LOG_LEVEL=info
# Worker: a kill -9'd worker's messages come back after 5 s; outages (NATS or Redis down) are
# waited out instead of counting towards MaxDeliver (so nothing reaches the DLQ because of the
# chaos itself, and the run needs no operator replay); short redelivery backoff so the drain
# after the run is quick.
export HOOKLINE_WORKER_ACK_WAIT=5s HOOKLINE_WORKER_OUTAGE_DLQ=false HOOKLINE_WORKER_BACKOFF=500ms,1s,2s

admin_port() {
  case $1 in
    ingress) echo "$INGRESS_ADMIN" ;;
    worker-1) echo "$WORKER1_ADMIN" ;;
    worker-2) echo "$WORKER2_ADMIN" ;;
    dispatcher) echo "$DISPATCHER_ADMIN" ;;
  esac
}

# start NAME: starts one process in the background, its output appended to logs/NAME.log.
start() {
  local name=$1 out="$work/logs/$1.log"
  printf '%s ==== start\n' "$(ts)" >>"$out"
  case $name in
    nats)
      nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -js -sd "$work/nats" >>"$out" 2>&1 & ;;
    redis)
      redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$work/redis" --appendonly yes \
        --appendfsync always --save "" --daemonize no --logfile "" >>"$out" 2>&1 & ;;
    ingress)
      HOOKLINE_HTTP_ADDR=127.0.0.1:$HTTP_PORT HOOKLINE_ADMIN_ADDR=127.0.0.1:$INGRESS_ADMIN \
        "$bin/ingress" >>"$out" 2>&1 & ;;
    worker-1 | worker-2)
      HOOKLINE_ADMIN_ADDR=127.0.0.1:$(admin_port "$name") "$bin/worker" >>"$out" 2>&1 & ;;
    dispatcher)
      HOOKLINE_ADMIN_ADDR=127.0.0.1:$DISPATCHER_ADMIN "$bin/dispatcher" >>"$out" 2>&1 & ;;
  esac
  pid[$name]=$!
}

# ready NAME: one readiness probe (servers: PING / healthz; services: /readyz 200).
ready() {
  case $1 in
    nats) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$NATS_MON/healthz" ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    *) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$(admin_port "$1")/readyz" ;;
  esac
}

build_binaries

log "starting nats-server :$NATS_PORT, redis-server :$REDIS_PORT, ingress :$HTTP_PORT, worker-1, worker-2, dispatcher (work dir $work)"
start nats
start redis
await_ready nats
await_ready redis
for name in ingress worker-1 worker-2 dispatcher; do start "$name"; done
for name in ingress worker-1 worker-2 dispatcher; do await_ready "$name"; done
log "pipeline ready"

log "load: $SECS s at $RATE req/s, $CONNS connections, up to $RETRIES retries per request"
start_load -target "http://127.0.0.1:$HTTP_PORT" -c "$CONNS" -petstore 0.4 -bunjang 0.4 -shopify 0.2 -dup 0.1 -shuffle 0.3 -retries "$RETRIES" \
  -nats "$NATS_URL" -oracle "$work/oracle.json"

at 15
stop worker-1 KILL
sleep "$DOWN"
restart worker-1

at 35
stop ingress "$INGRESS_SIG"
restart ingress

at 55
s=$(now_ms)
stop nats "$NATS_SIG"
sleep "$DOWN"
restart nats
recovered "$s" ingress worker-1 worker-2 dispatcher

at 75
s=$(now_ms)
stop redis "$REDIS_SIG"
sleep "$DOWN"
restart redis
recovered "$s" worker-1 worker-2   # the dispatcher does not use Redis

finish_load
verify_run "http://127.0.0.1:$WORKER2_ADMIN" "$NATS_URL"
judge
render_section "$SECS s of \`hookline bench -rate $RATE -c $CONNS -petstore 0.4 -bunjang 0.4 -shopify 0.2 -dup 0.1 -shuffle 0.3 -retries $RETRIES\` against one ingress, two workers and a dispatcher; killed servers stay down $DOWN s."
publish_section chaos
