#!/usr/bin/env bash
# Chaos run on clustered backends, from built binaries, all on free loopback ports (temp dirs;
# nothing else on the machine is touched).
#
#   scripts/chaos-cluster.sh [seconds] [rate]   full run (default 210 s at 300 req/s, NATS down
#                                               90 s); writes the results into BENCHMARKS.md
#                                               between the chaos-cluster markers
#   scripts/chaos-cluster.sh --short            CI run: 70 s at 200 req/s, NATS down 20 s,
#                                               BENCHMARKS.md untouched (at most 3 minutes)
#   options: --no-write (never touch BENCHMARKS.md), --write (write even with --short)
#
# It starts a 3-node NATS cluster (JetStream file store, R3 streams: HOOKLINE_STREAM_REPLICAS=3,
# NATS_URL lists the three), a Redis Cluster of 3 primaries and 3 replicas with AOF
# (REDIS_CLUSTER_ADDRS, HOOKLINE_REDIS_MIN_REPLICAS=1), two ingresses with the outage spool on
# (each its own HOOKLINE_SPOOL_DIR), two workers and a dispatcher, and runs `hookline bench` at a
# fixed rate against both ingresses (requests take turns, a retry goes to the other one, as behind
# a load balancer) with duplicates, out-of-order events and provider-style retries. During the
# load, at 10/22/35 % of it:
#   1. kill -9 the WEBHOOKS stream leader, start it again after CHAOS_DOWN seconds, wait until the
#      stream has a leader and three current replicas;
#   2. kill -9 a Redis primary, wait until its replica took over, start the killed node again (it
#      rejoins as a replica) and wait until every primary has a replica in sync again;
#   3. stop all three NATS servers (CHAOS_OUTAGE_SIGNAL, TERM) for CHAOS_OUTAGE seconds (90, --short
#      20: Bunjang gives up after about 60 s) while the ingresses answer from their spools; a third
#      into it kill -9 ingress-1 once its spool holds webhooks (hookline_spool_messages > 0) and
#      start it again on the same spool dir, which must hold at least what it held before the
#      kill; then start NATS again and wait until both spools are forwarded.
# Then it waits for both spools and the worker consumer to drain and runs `hookline verify`; it
# fails on any lost, duplicated or wrong-state order, on a message in the DLQ, on a request never
# acknowledged, on a spool not empty, on a service that died by itself, or when the bench got
# nothing acknowledged. Every process logs into the temp dir; on failure the last lines of each
# log are printed and the dir is kept.
#
# Environment: CHAOS_CONNS (bench connections, 64), CHAOS_RETRIES (bench retries per request, 10),
# CHAOS_DOWN (seconds the killed stream leader stays down, 2), CHAOS_OUTAGE (seconds NATS is down),
# CHAOS_OUTAGE_SIGNAL (TERM or KILL), CHAOS_VERIFY_WAIT (longest wait for the drain, 3m),
# CHAOS_KEEP=1 (keep the temp dir with logs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/chaos-lib.sh
source scripts/cluster-lib.sh

chaos_args "$@"
if [ "$short" = 1 ]; then load_shape 70 200; def_outage=20; else load_shape 210 300; def_outage=90; fi
CONNS=${CHAOS_CONNS:-64}
RETRIES=${CHAOS_RETRIES:-10}
DOWN=${CHAOS_DOWN:-2}
OUTAGE=${CHAOS_OUTAGE:-$def_outage}
OUTAGE_SIG=${CHAOS_OUTAGE_SIGNAL:-TERM}
VERIFY_WAIT=${CHAOS_VERIFY_WAIT:-3m}
case $OUTAGE_SIG in TERM | KILL | INT) ;; *) echo "chaos-cluster: signals are TERM, INT or KILL, got $OUTAGE_SIG" >&2; exit 2 ;; esac
case "$OUTAGE$DOWN" in *[!0-9]*) echo "chaos-cluster: CHAOS_OUTAGE and CHAOS_DOWN are whole seconds" >&2; exit 2 ;; esac
# The outage starts at 35 % of the load and must end, with NATS back, well before the load does.
[ $((SECS * 65 / 100)) -ge $((OUTAGE + 15)) ] ||
  { echo "chaos-cluster: a ${OUTAGE} s NATS outage needs a load of at least $(((OUTAGE + 15) * 100 / 65 + 1)) s" >&2; exit 2; }
need_tools nats-server redis-server redis-cli curl go python3
chaos_init hookline-chaos-cluster
pids=() # scripts/cluster-lib.sh appends every PID it starts here; the pid registry is what is killed
servers="nats-1 nats-2 nats-3 redis-1 redis-2 redis-3 redis-4 redis-5 redis-6"
services=(ingress-1 ingress-2 worker-1 worker-2 dispatcher)

read -r HTTP_ingress_1 HTTP_ingress_2 ADMIN_ingress_1 ADMIN_ingress_2 ADMIN_worker_1 ADMIN_worker_2 ADMIN_dispatcher <<<"$(free_ports 7)"
[ -n "${ADMIN_dispatcher:-}" ] || die "could not find free ports"
export HOOKLINE_PETSTORE_SECRETS=chaos-petstore-secret HOOKLINE_BUNJANG_SECRETS=chaos-bunjang-secret HOOKLINE_SHOPIFY_SECRETS=chaos-shopify-secret
export HOOKLINE_JWT_SECRET=chaos-jwt-secret HOOKLINE_CALLBACK_SECRET=chaos-callback-secret
export HOOKLINE_LOG_LEVEL=info HOOKLINE_STREAM_REPLICAS=3 HOOKLINE_REDIS_MIN_REPLICAS=1
# Worker: as in scripts/chaos.sh, a kill -9'd worker's messages come back after 5 s, outages are
# waited out instead of counting towards MaxDeliver, short redelivery backoff for a quick drain.
export HOOKLINE_WORKER_ACK_WAIT=5s HOOKLINE_WORKER_OUTAGE_DLQ=false HOOKLINE_WORKER_BACKOFF=500ms,1s,2s

admin_port() { local v="ADMIN_${1//-/_}"; echo "${!v}"; }
http_port() { local v="HTTP_${1//-/_}"; echo "${!v}"; }

# start NAME: starts one process in the background (servers through scripts/cluster-lib.sh, their
# logs under nats-cluster/ and redis-cluster/; services' output appended to logs/NAME.log).
start() {
  local name=$1 out="$work/logs/$1.log" i
  case $name in
    nats-*) i=$((${name#nats-} - 1)); start_nats_node "$i"; pid[$name]=${NATS_CLUSTER_PIDS[i]}; return ;;
    redis-*) i=$((${name#redis-} - 1)); start_redis_node "$i"; pid[$name]=${REDIS_CLUSTER_PIDS[i]}; return ;;
  esac
  printf '%s ==== start\n' "$(ts)" >>"$out"
  case $name in
    ingress-*)
      HOOKLINE_HTTP_ADDR=127.0.0.1:$(http_port "$name") HOOKLINE_ADMIN_ADDR=127.0.0.1:$(admin_port "$name") \
        HOOKLINE_SPOOL_DIR=$work/spool-${name#ingress-} \
        "$bin/ingress" >>"$out" 2>&1 & ;;
    worker-*) HOOKLINE_ADMIN_ADDR=127.0.0.1:$(admin_port "$name") "$bin/worker" >>"$out" 2>&1 & ;;
    dispatcher) HOOKLINE_ADMIN_ADDR=127.0.0.1:$(admin_port "$name") "$bin/dispatcher" >>"$out" 2>&1 & ;;
  esac
  pid[$name]=$!
}

# ready NAME: one readiness probe (nats-server: /healthz; redis-server: PING; services: /readyz).
ready() {
  case $1 in
    nats-*) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:${NATS_CLUSTER_MONS[${1#nats-} - 1]}/healthz" ;;
    redis-*) [ "$(redis-cli -p "${REDIS_CLUSTER_PORTS[${1#redis-} - 1]}" ping 2>/dev/null)" = PONG ] ;;
    *) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$(admin_port "$1")/readyz" ;;
  esac
}

# kill_node NAME SIGNAL: stop, and mark a Redis node as down for scripts/cluster-lib.sh.
kill_node() {
  stop "$1" "$2"
  case $1 in redis-*) REDIS_CLUSTER_PIDS[${1#redis-} - 1]="" ;; esac
}

# spooled NAME: hookline_spool_messages of an ingress (empty when its admin port does not answer).
spooled() {
  curl -sf --max-time 2 "http://127.0.0.1:$(admin_port "$1")/metrics" 2>/dev/null |
    awk '$1 == "hookline_spool_messages" {printf "%d\n", $2}'
}

# wait_spools_empty SECONDS: until both ingresses report an empty spool; fails after SECONDS.
wait_spools_empty() {
  local deadline=$(($(now_ms) + $1 * 1000)) a b
  while :; do
    a=$(spooled ingress-1); b=$(spooled ingress-2)
    [ "${a:-x}" = 0 ] && [ "${b:-x}" = 0 ] && return 0
    [ "$(now_ms)" -lt "$deadline" ] || die "the spools still hold ${a:-?} (ingress-1) and ${b:-?} (ingress-2) webhooks after ${1}s"
    sleep 0.2
  done
}

build_binaries

log "starting a 3-node NATS cluster and a Redis Cluster (3 primaries, 3 replicas) (work dir $work)"
adopt() { # the registry learns the servers cluster-lib started, also when a start failed midway
  local i
  for i in "${!NATS_CLUSTER_PIDS[@]}"; do pid[nats-$((i + 1))]=${NATS_CLUSTER_PIDS[i]}; done
  for i in "${!REDIS_CLUSTER_PIDS[@]}"; do [ -z "${REDIS_CLUSTER_PIDS[i]}" ] || pid[redis-$((i + 1))]=${REDIS_CLUSTER_PIDS[i]}; done
}
NATS_CLUSTER_PIDS=(); REDIS_CLUSTER_PIDS=()
start_nats_cluster 3 || { adopt; die "the NATS cluster did not start"; }
adopt
start_redis_cluster || { adopt; die "the Redis Cluster did not start"; }
adopt
export NATS_URL=$NATS_CLUSTER_URL REDIS_CLUSTER_ADDRS=$REDIS_CLUSTER_URL
log "NATS_URL=$NATS_URL REDIS_CLUSTER_ADDRS=$REDIS_CLUSTER_ADDRS; starting ${services[*]}"
for name in "${services[@]}"; do start "$name"; done
for name in "${services[@]}"; do await_ready "$name" 60; done
leader=$(wait_nats_stream_current WEBHOOKS 60) || die "WEBHOOKS has no leader with current replicas"
log "pipeline ready; WEBHOOKS leader $leader"

log "load: $SECS s at $RATE req/s over both ingresses, $CONNS connections, up to $RETRIES retries per request"
start_load -target "http://127.0.0.1:$HTTP_ingress_1,http://127.0.0.1:$HTTP_ingress_2" -c "$CONNS" -petstore 0.4 -bunjang 0.4 -shopify 0.2 -dup 0.1 -shuffle 0.3 \
  -retries "$RETRIES" -nats "$NATS_URL" -oracle "$work/oracle.json"

# 1. The WEBHOOKS stream leader.
at 10
s=$(now_ms)
read -r leader _ < <(nats_stream_info WEBHOOKS) || die "no server knows WEBHOOKS"
case $leader in n[1-3]) ;; *) die "WEBHOOKS has no leader to kill (got $leader)" ;; esac
event "WEBHOOKS leader is $leader"
kill_node "nats-${leader#n}" KILL
sleep "$DOWN"
restart "nats-${leader#n}" 60
now_leader=$(wait_nats_stream_current WEBHOOKS 60) || die "WEBHOOKS did not recover after its leader was killed"
event "WEBHOOKS: leader $now_leader with current replicas, $(since "$s") after the fault"
recovered "$s" "${services[@]}"

# 2. A Redis primary.
at 22
s=$(now_ms)
read -r _ primaries < <(redis_cluster_state)
victim=$((${primaries%%,*} + 1))
kill_node "redis-$victim" KILL
wait_redis_failover $((victim - 1)) 30 || die "no replica took over from redis-$victim"
event "redis: a replica took over the slots of redis-$victim, $(since "$s") after the fault"
restart "redis-$victim" 30
wait_redis_cluster_healthy 60 || die "the Redis Cluster did not heal after redis-$victim came back"
role=$(redis-cli -p "${REDIS_CLUSTER_PORTS[victim - 1]}" info replication | tr -d '\r' | awk -F: '$1 == "role" {print $2}')
event "redis: cluster healthy again (redis-$victim rejoined as $role), $(since "$s") after the fault"
recovered "$s" worker-1 worker-2

# 3. NATS down for longer than Bunjang retries, one ingress killed while it holds spooled webhooks.
at 35
s=$(now_ms)
for n in 1 2 3; do stop "nats-$n" "$OUTAGE_SIG"; done
event "NATS: all three servers down; they stay down ${OUTAGE}s"
until_ms $((s + OUTAGE * 1000 / 3)) # a third into the outage: the spool holds thousands by then
deadline=$((s + OUTAGE * 500))
while held=$(spooled ingress-1) && [ "${held:-0}" -le 0 ]; do
  [ "$(now_ms)" -lt "$deadline" ] || die "ingress-1 spooled nothing in the first half of the NATS outage"
  until_ms $(($(now_ms) + 100))
done
held=$(spooled ingress-1)
event "ingress-1 holds $held spooled webhooks (ingress-2: $(spooled ingress-2))"
stop ingress-1 KILL
restart ingress-1 30
after=$(spooled ingress-1)
[ "${after:-0}" -ge "$held" ] || die "ingress-1's spool holds ${after:-nothing} after its kill -9, it held $held before"
event "ingress-1 restarted on its spool: $after spooled webhooks (held $held before the kill)"
until_ms $((s + OUTAGE * 1000))
event "NATS: starting the three servers again (spools: ingress-1 $(spooled ingress-1), ingress-2 $(spooled ingress-2))"
for n in 1 2 3; do start "nats-$n"; done
for n in 1 2 3; do await_ready "nats-$n" 60; done
wait_nats_meta_leader || die "no JetStream meta leader after the outage"
now_leader=$(wait_nats_stream_current WEBHOOKS 60) || die "WEBHOOKS did not recover after the outage"
event "NATS: back, WEBHOOKS leader $now_leader with current replicas, $(since "$s") after the stop"
recovered "$s" "${services[@]}"
wait_spools_empty 120
event "spools forwarded to WEBHOOKS, $(since "$s") after the stop"

finish_load
wait_spools_empty 60
verify_run "http://127.0.0.1:$ADMIN_worker_2" "$NATS_URL"
failed=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["failed"])' "$work/bench.json")
extra=()
[ "$failed" = 0 ] || extra+=("$failed requests never acknowledged (the spool should answer every one)")
judge "${extra[@]}"
render_section "$SECS s of \`hookline bench -rate $RATE -c $CONNS -petstore 0.4 -bunjang 0.4 -shopify 0.2 -dup 0.1 -shuffle 0.3 -retries $RETRIES\` against two ingresses (outage spool on; requests take turns, a retry goes to the other one), two workers and a dispatcher, on a 3-node NATS cluster (R3 streams) and a Redis Cluster of 3 primaries and 3 replicas (AOF, \`HOOKLINE_REDIS_MIN_REPLICAS=1\`); the killed stream leader stays down $DOWN s, all of NATS ${OUTAGE} s (SIG$OUTAGE_SIG)."
publish_section chaos-cluster
