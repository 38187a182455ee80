#!/usr/bin/env bash
# Measures the ingress against a bare echo handler in the same sitting and writes the table into
# BENCHMARKS.md (between the ingress markers). Needs wrk, nats-server and Go.
#
#   scripts/bench-ingress.sh [rounds] [seconds] [connections]
#
# Each round runs the bare handler, then the ingress, with wrk replaying pre-signed unique
# webhooks (no request repeats, so every 2xx must be a distinct message in WEBHOOKS: checked
# after every ingress round). Then a fixed-rate run at 1 000 req/s measures latency from the
# intended send time with `hookline bench -rate`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-64}
command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT


go build -o "$work/" ./services/ingress ./cmd/hookline
NATS_PORT=$(free_port); HTTP_PORT=$(free_port); ADMIN_PORT=$(free_port); BARE_PORT=$(free_port)
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$work/nats" >"$work/nats.log" 2>&1 & pids+=($!)
wait_port "$NATS_PORT"
export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret
NATS_URL=nats://127.0.0.1:$NATS_PORT HOOKLINE_HTTP_ADDR=127.0.0.1:$HTTP_PORT HOOKLINE_ADMIN_ADDR=127.0.0.1:$ADMIN_PORT \
  HOOKLINE_LOG_LEVEL=warn "$work/ingress" >"$work/ingress.log" 2>&1 & pids+=($!)
"$work/hookline" bench-target -addr "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 & pids+=($!)
wait_port "$HTTP_PORT"; wait_port "$BARE_PORT"
wait_ready "http://127.0.0.1:$ADMIN_PORT"


N=$(( SECS * 90000 ))   # more than any round can send: nothing repeats
rows=()
for r in $(seq 1 "$ROUNDS"); do
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$BARE_PORT" -o "$work/bare" >/dev/null
  read -r b_rps b_p50 b_p99 b_n b_bad < <(run_wrk "http://127.0.0.1:$BARE_PORT" "$work/bare")
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$HTTP_PORT" -o "$work/in" >/dev/null
  msgs_before=$("$work/hookline" bench stream-count -nats "nats://127.0.0.1:$NATS_PORT")
  read -r i_rps i_p50 i_p99 i_n i_bad < <(run_wrk "http://127.0.0.1:$HTTP_PORT" "$work/in")
  msgs_after=$("$work/hookline" bench stream-count -nats "nats://127.0.0.1:$NATS_PORT")
  ok=$(( i_n - i_bad )); new=$(( msgs_after - msgs_before ))
  # wrk drops the requests in flight when its time is up: the ingress stored them, wrk never read
  # their answers, so the stream may hold a few more messages than wrk counted 2xx.
  persisted="yes: $new stored for $ok 2xx"; [ "$new" -ge "$ok" ] || persisted="NO: $new stored for $ok 2xx"
  ratio=$(awk -v a="$i_rps" -v b="$b_rps" 'BEGIN {printf "%.2f", a/b}')
  echo "round $r: bare $b_rps req/s, ingress $i_rps req/s (ratio $ratio), every 2xx stored: $persisted" >&2
  rows+=("| $r | $b_rps | $b_p50 / $b_p99 | $i_rps | $i_p50 / $i_p99 | $ratio | $i_bad | $persisted |")
done

"$work/hookline" bench -q -rate 1000 -d 20s -c 32 -target "http://127.0.0.1:$HTTP_PORT" -nats "nats://127.0.0.1:$NATS_PORT" >"$work/rate.out"
fixed=$(awk '/^latency/ {printf "p50 %s, p90 %s, p99 %s, p99.9 %s, max %s", $3, $5, $7, $9, $11}' "$work/rate.out")
fixed_n=$(awk '/^requests/ {print $2; exit}' "$work/rate.out")
fixed_p=$(awk '/^persisted/ {print $2 " stored for " $8 " acknowledged"}' "$work/rate.out")

table=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $(machine_line); wrk $(wrk --version 2>&1 | awk 'NR==1 {print $2}'). The load generator, the server and nats-server (file storage) share the cores.
Command: \`scripts/bench-ingress.sh $ROUNDS $SECS $CONNS\` (wrk -t2 -c$CONNS -d${SECS}s replaying unique pre-signed Petstore and Bunjang webhooks, half each).

| round | bare echo req/s | bare p50 / p99 | ingress req/s | ingress p50 / p99 | ratio | ingress non-2xx | every 2xx in WEBHOOKS |
|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Fixed rate, 1 000 req/s for 20 s (\`hookline bench -rate 1000 -d 20s -c 32\`, latency from the intended send time): $fixed_n requests, $fixed; $fixed_p.
EOT
)
write_section ingress "$table"

vout=$(go test -run '^$' -bench BenchmarkVerify -benchmem -count 3 ./pkg/webhook/)
vrows=$(awk '/^BenchmarkVerify/ { printf "| `%s` | %s | %s | %s |\n", $1, $3, $5, $7 }' <<<"$vout")
write_section verify "Measured $(date -u +%Y-%m-%d) on $(machine_line). Command: \`go test -run '^\$' -bench BenchmarkVerify -benchmem -count 3 ./pkg/webhook/\` (1 KiB body).

| benchmark | ns/op | B/op | allocs/op |
|---|---|---|---|
$vrows"
echo "$table"
