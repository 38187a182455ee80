#!/usr/bin/env bash
# Measures what tracing costs the ingress (issue 13, acceptance 3), with the method of
# scripts/bench-ingress.sh: wrk replays unique pre-signed webhooks against a bare echo handler
# and against the ingress in the same round, and the figure is the ratio ingress/echo. Three
# ingresses are compared, each against the echo handler of the same round:
#   before  the ingress of the last commit without tracing (BEFORE, default: the parent of the
#           commit that added pkg/tracing), built from `git archive` into a temp dir
#   off     this tree's ingress with export off (no OTEL_EXPORTER_OTLP_* set): traceparent still
#           travels, a new trace id for each webhook (the corpus sends no traceparent)
#   on      this tree's ingress exporting with OTLP/HTTP to a loopback receiver that discards
#           (a second `hookline bench-target`, which answers 202 to every POST)
# and writes the table between the tracing markers of BENCHMARKS.md. Needs wrk, nats-server, Go.
#
#   scripts/bench-tracing.sh [rounds] [seconds] [connections]     (default 3 10 64)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ROUNDS=${1:-3}
SECS=${2:-10}
CONNS=${3:-64}
command -v wrk >/dev/null || { echo "bench: install wrk (apt-get install wrk)" >&2; exit 1; }

if [ -z "${BEFORE:-}" ]; then
  added=$(git log --diff-filter=A --format=%H -- pkg/tracing/tracing.go | tail -1)
  [ -n "$added" ] || { echo "bench: no commit adds pkg/tracing/tracing.go; set BEFORE=<ref>" >&2; exit 1; }
  BEFORE="$added^"
fi
before_rev=$(git rev-parse --short "$BEFORE")

work=$(mktemp -d)
pids=()
trap kill_started EXIT

mkdir "$work/before"
git archive "$BEFORE" | tar -x -C "$work/before"
(cd "$work/before" && go build -o "$work/ingress-before" ./services/ingress)
go build -o "$work/" ./services/ingress ./cmd/hookline

NATS_PORT=$(free_port); BARE_PORT=$(free_port); SINK_PORT=$(free_port)
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$work/nats" >"$work/nats.log" 2>&1 & pids+=($!)
wait_port "$NATS_PORT"
export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_SDK_DISABLED OTEL_TRACES_EXPORTER
"$work/hookline" bench-target -addr "127.0.0.1:$BARE_PORT" >"$work/bare.log" 2>&1 & pids+=($!)
"$work/hookline" bench-target -addr "127.0.0.1:$SINK_PORT" >"$work/sink.log" 2>&1 & pids+=($!)

# start_ingress NAME BIN [ENV=value …]: one ingress on free ports; sets PORT_<NAME>.
start_ingress() {
  local name=$1 bin=$2 http adm; shift 2
  http=$(free_port); adm=$(free_port)
  env "$@" NATS_URL="nats://127.0.0.1:$NATS_PORT" HOOKLINE_HTTP_ADDR="127.0.0.1:$http" HOOKLINE_ADMIN_ADDR="127.0.0.1:$adm" \
    HOOKLINE_LOG_LEVEL=warn "$bin" >"$work/ingress-$name.log" 2>&1 & pids+=($!)
  wait_port "$http"; wait_ready "http://127.0.0.1:$adm"
  printf -v "PORT_$name" '%s' "$http"
}
start_ingress before "$work/ingress-before"
start_ingress off "$work/ingress"
start_ingress on "$work/ingress" OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://127.0.0.1:$SINK_PORT/webhooks/otlp" OTEL_SERVICE_NAME=hookline-ingress-bench
wait_port "$BARE_PORT"; wait_port "$SINK_PORT"

# stored_run PORT PREFIX: one wrk run against PORT with a fresh corpus, checking that WEBHOOKS
# gained at least one message per 2xx; prints "rps p50 p99 non2xx persisted".
stored_run() {
  local before after n bad ok new rps p50 p99 persisted
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$1" -o "$work/$2" >/dev/null
  before=$("$work/hookline" bench stream-count -stream WEBHOOKS -nats "nats://127.0.0.1:$NATS_PORT")
  read -r rps p50 p99 n bad < <(run_wrk "http://127.0.0.1:$1" "$work/$2")
  after=$("$work/hookline" bench stream-count -stream WEBHOOKS -nats "nats://127.0.0.1:$NATS_PORT")
  ok=$(( n - bad )); new=$(( after - before ))
  persisted="yes"; [ "$new" -ge "$ok" ] || persisted="NO:_${new}_stored_for_${ok}_2xx"
  echo "$rps $p50 $p99 $bad $persisted"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }

N=$(( SECS * 90000 ))   # more than any round can send: nothing repeats
# Warm-up: one short run per ingress (first connections, stream files), not counted.
for v in before off on; do
  port_var="PORT_$v"
  SECS=1 stored_run "${!port_var}" "warm-$v" >/dev/null
done
variants=(before off on)
rows=(); r_before=(); r_off=(); r_on=()
declare -A cell
for r in $(seq 1 "$ROUNDS"); do
  "$work/hookline" bench corpus -n "$N" -split 2 -host "127.0.0.1:$BARE_PORT" -o "$work/bare" >/dev/null
  read -r b_rps b_p50 b_p99 _ _ < <(run_wrk "http://127.0.0.1:$BARE_PORT" "$work/bare")
  # The ingresses run in a rotated order each round, so none is always the first after the echo.
  for i in 0 1 2; do
    v=${variants[$(( (i + r - 1) % 3 ))]}
    port_var="PORT_$v"
    read -r rps p50 p99 bad stored < <(stored_run "${!port_var}" "in-$v")
    q=$(ratio "$rps" "$b_rps")
    case $v in before) r_before+=("$q");; off) r_off+=("$q");; on) r_on+=("$q");; esac
    cell[$v]="$rps | $p50 / $p99 | $q | $bad, ${stored//_/ } |"
  done
  echo "round $r: bare $b_rps req/s; ingress/echo before ${r_before[-1]}, off ${r_off[-1]}, on ${r_on[-1]}" >&2
  rows+=("| $r | $b_rps | $b_p50 / $b_p99 | ${cell[before]} ${cell[off]} ${cell[on]}")
done

# The exporting ingress must have exported: the OTel SDK reports failed exports on stderr.
if grep -qi "export" "$work/ingress-on.log"; then
  echo "bench: the exporting ingress reported export errors:" >&2; grep -i "export" "$work/ingress-on.log" | head -3 >&2
  exit 1
fi

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m_before=$(median "${r_before[@]}"); m_off=$(median "${r_off[@]}"); m_on=$(median "${r_on[@]}")
d_off=$(awk -v a="$m_off" -v b="$m_before" 'BEGIN {printf "%+.1f", (a/b-1)*100}')
d_on=$(awk -v a="$m_on" -v b="$m_before" 'BEGIN {printf "%+.1f", (a/b-1)*100}')
verdict="within the 3 % issue 13 allows"; awk -v d="$d_off" 'BEGIN {exit !(d < -3)}' && verdict="MORE than the 3 % issue 13 allows"
trial=""
if [ "$ROUNDS" -lt 3 ] || [ "$SECS" -lt 10 ]; then
  trial="Short trial ($ROUNDS round(s) of ${SECS}s): a check that the script works, not final figures. "
fi

allocs=$(go test -run '^$' -bench 'BenchmarkWebhookHandler|BenchmarkIngressTrace' -benchmem -benchtime 20000x ./services/ingress/internal/httpapi/ |
  awk '/^Benchmark/ { printf "| `%s` | %s | %s |\n", $1, $5, $7 }')

table=$(cat <<EOT
${trial}Measured $(date -u +%Y-%m-%d) on $(machine_line); wrk $(wrk --version 2>&1 | awk 'NR==1 {print $2}'). Before = \`$before_rev\` (the last commit without tracing), built from \`git archive\`; on = export to a loopback OTLP/HTTP receiver that discards (\`hookline bench-target\`, sharing the cores).
Command: \`scripts/bench-tracing.sh $ROUNDS $SECS $CONNS\` (wrk -t2 -c$CONNS -d${SECS}s replaying unique pre-signed Petstore and Bunjang webhooks without a traceparent, so each one starts a new trace).

| round | bare echo req/s | bare p50 / p99 | before req/s | p50 / p99 | before / echo | non-2xx, all stored | off req/s | p50 / p99 | off / echo | non-2xx, all stored | on req/s | p50 / p99 | on / echo | non-2xx, all stored |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

Median ingress/echo: before $m_before, export off $m_off ($d_off % against before: $verdict), export on $m_on ($d_on % against before).

Allocations per request in the handler (publishing stubbed; \`go test -run '^\$' -bench 'BenchmarkWebhookHandler|BenchmarkIngressTrace' -benchmem ./services/ingress/internal/httpapi/\`): \`BenchmarkWebhookHandler\` is export off without a traceparent, \`BenchmarkIngressTraceOff\` export off with an inbound traceparent and tracestate, \`BenchmarkIngressTraceOn\` export on (spans into an exporter that discards).

| benchmark | B/op | allocs/op |
|---|---|---|
$allocs
EOT
)
write_section tracing "$table"
echo "$table"
