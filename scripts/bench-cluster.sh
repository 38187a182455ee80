#!/usr/bin/env bash
# Ingress throughput and ack latency with R1 against R3 streams, in one sitting, on a 3-node
# nats-server cluster on loopback (the ingress connected to all three servers), and writes the
# table into BENCHMARKS.md (between the cluster markers). Needs wrk, nats-server and Go.
#
#   scripts/bench-cluster.sh [rounds] [seconds] [connections]
#
# Each round runs the ingress once with HOOKLINE_STREAM_REPLICAS=1 and once with 3 (the ingress
# updates the streams at start), wrk replaying unique pre-signed webhooks; every 2xx must be a
# new message in WEBHOOKS.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ROUNDS=${1:-2}
SECS=${2:-10}
CONNS=${3:-64}
command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/" ./services/ingress ./cmd/hookline
ports=(); cports=()
for i in 1 2 3; do ports+=("$(free_port)"); cports+=("$(free_port)"); done
routes=$(printf 'nats-route://127.0.0.1:%s, ' "${cports[@]}"); routes=${routes%, }
urls=$(printf 'nats://127.0.0.1:%s,' "${ports[@]}"); urls=${urls%,}
for i in 0 1 2; do
  cat >"$work/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:${ports[$i]}
jetstream { store_dir: "$work/n$i" }
cluster { name: bench, listen: 127.0.0.1:${cports[$i]}, routes: [$routes] }
CONF
  nats-server -c "$work/n$i.conf" >"$work/n$i.log" 2>&1 & pids+=($!)
done
for p in "${ports[@]}"; do wait_port "$p"; done
export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret

HTTP_PORT=$(free_port); ADMIN_PORT=$(free_port)
ingress_pid=""
start_ingress() { # replicas
  NATS_URL=$urls HOOKLINE_STREAM_REPLICAS=$1 HOOKLINE_HTTP_ADDR=127.0.0.1:$HTTP_PORT HOOKLINE_ADMIN_ADDR=127.0.0.1:$ADMIN_PORT \
    HOOKLINE_LOG_LEVEL=warn "$work/ingress" >>"$work/ingress.log" 2>&1 &
  ingress_pid=$!; pids+=("$ingress_pid")
  wait_port "$HTTP_PORT"; wait_ready "http://127.0.0.1:$ADMIN_PORT"
}
stop_ingress() { kill "$ingress_pid"; wait "$ingress_pid" 2>/dev/null || true; }


N=$(( SECS * 90000 ))
rows=(); declare -A sum=([1]=0 [3]=0)
for r in $(seq 1 "$ROUNDS"); do
  for reps in 1 3; do
    start_ingress "$reps"
    "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$HTTP_PORT" -o "$work/in" >/dev/null
    before=$("$work/hookline" bench stream-count -nats "$urls")
    read -r rps p50 p99 n bad < <(run_wrk "http://127.0.0.1:$HTTP_PORT" "$work/in")
    after=$("$work/hookline" bench stream-count -nats "$urls")
    stop_ingress
    ok=$(( n - bad )); new=$(( after - before ))
    persisted="yes: $new stored for $ok 2xx"; [ "$new" -ge "$ok" ] || persisted="NO: $new stored for $ok 2xx"
    sum[$reps]=$(awk -v a="${sum[$reps]}" -v b="$rps" 'BEGIN {print a+b}')
    echo "round $r R$reps: $rps req/s, p50 $p50, p99 $p99, non-2xx $bad, every 2xx stored: $persisted" >&2
    rows+=("| $r | R$reps | $rps | $p50 / $p99 | $bad | $persisted |")
  done
done
ratio=$(awk -v a="${sum[3]}" -v b="${sum[1]}" 'BEGIN {printf "%.2f", a/b}')

table=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $(machine_line). Three nats-server processes (file storage) on loopback, the ingress connected to all three, wrk on the same cores.
Command: \`scripts/bench-cluster.sh $ROUNDS $SECS $CONNS\` (wrk -t2 -c$CONNS -d${SECS}s replaying unique pre-signed Petstore and Bunjang webhooks).

| round | streams | ingress req/s | ack p50 / p99 | non-2xx | every 2xx in WEBHOOKS |
|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

R3 / R1 throughput (means over the rounds): **$ratio** (target at least 0.6).
EOT
)
write_section cluster "$table"
echo "$table"
