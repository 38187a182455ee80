#!/usr/bin/env bash
# Measures the ingress against a bare echo handler and the minimal reference webhook handler
# (`hookline bench-target -mode reference`: HMAC check, JetStream publish, 202 after the PubAck)
# in the same sitting and writes the table into BENCHMARKS.md (between the ingress markers).
# Needs wrk, nats-server and Go.
#
#   scripts/bench-ingress.sh [rounds] [seconds] [connections]
#
# Each round runs the bare handler, the reference handler, then the ingress, with wrk replaying
# pre-signed unique webhooks (no request repeats, so every 2xx must be a distinct stored message:
# checked after every reference and ingress round, in BENCHREF and WEBHOOKS). Then a fixed-rate run at 1 000 req/s measures latency from the
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
trap kill_started EXIT

go build -o "$work/" ./services/ingress ./cmd/hookline
NATS_PORT=$(free_port); HTTP_PORT=$(free_port); ADMIN_PORT=$(free_port); BARE_PORT=$(free_port); REF_PORT=$(free_port)
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$work/nats" >"$work/nats.log" 2>&1 & pids+=($!)
wait_port "$NATS_PORT"
export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret
NATS_URL=nats://127.0.0.1:$NATS_PORT HOOKLINE_HTTP_ADDR=127.0.0.1:$HTTP_PORT HOOKLINE_ADMIN_ADDR=127.0.0.1:$ADMIN_PORT \
  HOOKLINE_LOG_LEVEL=warn "$work/ingress" >"$work/ingress.log" 2>&1 & pids+=($!)
"$work/hookline" bench-target -addr "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 & pids+=($!)
NATS_URL=nats://127.0.0.1:$NATS_PORT "$work/hookline" bench-target -mode reference -addr "127.0.0.1:$REF_PORT" >"$work/ref.log" 2>&1 & pids+=($!)
wait_port "$HTTP_PORT"; wait_port "$BARE_PORT"; wait_port "$REF_PORT"
wait_ready "http://127.0.0.1:$ADMIN_PORT"


# stored_run PORT STREAM PREFIX: one wrk run against PORT with a fresh corpus, checking that
# STREAM gained at least one message per 2xx; prints "rps p50 p99 non2xx persisted".
stored_run() {
  local before after n bad ok new rps p50 p99 persisted
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$1" -o "$work/$3" >/dev/null
  before=$("$work/hookline" bench stream-count -stream "$2" -nats "nats://127.0.0.1:$NATS_PORT")
  read -r rps p50 p99 n bad < <(run_wrk "http://127.0.0.1:$1" "$work/$3")
  after=$("$work/hookline" bench stream-count -stream "$2" -nats "nats://127.0.0.1:$NATS_PORT")
  ok=$(( n - bad )); new=$(( after - before ))
  # wrk drops the requests in flight when its time is up: the server stored them, wrk never read
  # their answers, so the stream may hold a few more messages than wrk counted 2xx.
  persisted="yes:_${new}_stored_for_${ok}_2xx"; [ "$new" -ge "$ok" ] || persisted="NO:_${new}_stored_for_${ok}_2xx"
  echo "$rps $p50 $p99 $bad $persisted"
}

N=$(( SECS * 90000 ))   # more than any round can send: nothing repeats
rows=()
for r in $(seq 1 "$ROUNDS"); do
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$BARE_PORT" -o "$work/bare" >/dev/null
  read -r b_rps b_p50 b_p99 b_n b_bad < <(run_wrk "http://127.0.0.1:$BARE_PORT" "$work/bare")
  read -r f_rps f_p50 f_p99 f_bad f_stored < <(stored_run "$REF_PORT" BENCHREF ref)
  read -r i_rps i_p50 i_p99 i_bad i_stored < <(stored_run "$HTTP_PORT" WEBHOOKS in)
  f_stored=${f_stored//_/ }; i_stored=${i_stored//_/ }
  ratio=$(awk -v a="$i_rps" -v b="$b_rps" 'BEGIN {printf "%.2f", a/b}')
  ref_ratio=$(awk -v a="$i_rps" -v b="$f_rps" 'BEGIN {printf "%.2f", a/b}')
  echo "round $r: bare $b_rps req/s, reference $f_rps req/s, ingress $i_rps req/s (ingress/echo $ratio, ingress/reference $ref_ratio); stored: reference $f_stored, ingress $i_stored" >&2
  rows+=("| $r | $b_rps | $b_p50 / $b_p99 | $f_rps | $f_p50 / $f_p99 | $i_rps | $i_p50 / $i_p99 | $ratio | $ref_ratio | $f_bad / $i_bad | $f_stored / $i_stored |")
done

"$work/hookline" bench -q -rate 1000 -d 20s -c 32 -target "http://127.0.0.1:$HTTP_PORT" -nats "nats://127.0.0.1:$NATS_PORT" >"$work/rate.out"
fixed=$(awk '/^latency/ {printf "p50 %s, p90 %s, p99 %s, p99.9 %s, max %s", $3, $5, $7, $9, $11}' "$work/rate.out")
fixed_n=$(awk '/^requests/ {print $2; exit}' "$work/rate.out")
fixed_p=$(awk '/^persisted/ {print $2 " stored for " $8 " acknowledged"}' "$work/rate.out")

table=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $(machine_line); wrk $(wrk --version 2>&1 | awk 'NR==1 {print $2}'). The load generator, the server and nats-server (file storage) share the cores; the reference handler (\`hookline bench-target -mode reference\`) checks the HMAC, publishes the raw body to its own stream BENCHREF (defined like WEBHOOKS) and answers 202 after the PubAck, nothing else.
Command: \`scripts/bench-ingress.sh $ROUNDS $SECS $CONNS\` (wrk -t2 -c$CONNS -d${SECS}s replaying unique pre-signed Petstore and Bunjang webhooks, half each).

| round | bare echo req/s | bare p50 / p99 | reference req/s | reference p50 / p99 | ingress req/s | ingress p50 / p99 | ingress / echo | ingress / reference | non-2xx reference / ingress | every 2xx stored: reference (BENCHREF) / ingress (WEBHOOKS) |
|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Fixed rate, 1 000 req/s for 20 s (\`hookline bench -rate 1000 -d 20s -c 32\`, latency from the intended send time): $fixed_n requests, $fixed; $fixed_p.
EOT
)
write_section ingress "$table"

vout=$(go test -run '^$' -bench BenchmarkVerify -benchmem -count 3 ./pkg/providers/...)
vrows=$(awk '/^BenchmarkVerify/ { printf "| `%s` | %s | %s | %s |\n", $1, $3, $5, $7 }' <<<"$vout")
write_section verify "Measured $(date -u +%Y-%m-%d) on $(machine_line). Command: \`go test -run '^\$' -bench BenchmarkVerify -benchmem -count 3 ./pkg/providers/...\` (1 KiB body).

| benchmark | ns/op | B/op | allocs/op |
|---|---|---|---|
$vrows"
echo "$table"
