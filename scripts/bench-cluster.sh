#!/usr/bin/env bash
# Figures of issue 12 side by side in one sitting, written into BENCHMARKS.md (cluster markers):
#   1. the ingress with R1 streams on one nats-server and with R3 streams on a loopback 3-node
#      NATS cluster: closed-loop req/s and ack p99, and ack p99 at a fixed 1 000 req/s;
#   2. the ingress with the spool engaged (HOOKLINE_SPOOL_DIR set, NATS_URL on a closed port):
#      ack p99 at 1 000 req/s and closed-loop req/s;
#   3. one worker's events/s on a single redis-server and on a Redis Cluster of 3 primaries and 3
#      replicas (the Go benchmarks of scripts/bench-worker.sh, which start their own servers).
# Each target of the issue is stated as met or by its distance. Needs nats-server, redis-server,
# redis-cli and Go. Load: `hookline bench` (closed loop: -c requests in flight; fixed rate:
# latency from the intended send time), on the same cores as everything else.
#
#   scripts/bench-cluster.sh [--only ingress|spool|worker] [seconds per run] [worker events per run] [worker runs]
#
# --only runs one part and prints its figures without touching BENCHMARKS.md (a trial, or a
# rerun of one part while tuning it); the section is only written by a full run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
source scripts/cluster-lib.sh
ONLY=""
if [ "${1:-}" = --only ]; then
  ONLY=${2:?--only needs ingress, spool or worker}; shift 2
  case $ONLY in ingress|spool|worker) ;; *) echo "--only: want ingress, spool or worker, got $ONLY" >&2; exit 2;; esac
fi
runs() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
SECS=${1:-20}
N=${2:-100000}
RUNS=${3:-3}
CONNS=64

work=$(mktemp -d)
pids=()
trap kill_started EXIT

machine=$(machine_line)
echo "bench-cluster: $machine" >&2
go build -o "$work/" ./services/ingress ./cmd/hookline
export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret HOOKLINE_LOG_LEVEL=warn

# start_ingress NAME ENV…: starts an ingress with the given environment on free ports; sets HTTP,
# IADM and INGRESS_PID.
start_ingress() {
  local name=$1; shift
  HTTP=$(free_port); IADM=$(free_port)
  env "$@" HOOKLINE_HTTP_ADDR="127.0.0.1:$HTTP" HOOKLINE_ADMIN_ADDR="127.0.0.1:$IADM" "$work/ingress" >"$work/ingress-$name.log" 2>&1 &
  INGRESS_PID=$!; pids+=("$INGRESS_PID")
  wait_ready "http://127.0.0.1:$IADM"
}

# stop PID…: stops processes this script started (they stay in pids; a second kill is harmless).
stop() { kill "$@" 2>/dev/null || true; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }

# load NAME ARGS…: one `hookline bench` run against the running ingress; prints
# "rps p99_ms acked failed persisted" (persisted: "-" without -nats).
load() {
  local name=$1; shift
  "$work/hookline" bench -q -d "${SECS}s" -target "http://127.0.0.1:$HTTP" -json "$work/$name.json" "$@" >"$work/$name.out"
  python3 - "$work/$name.json" "$work/$name.out" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
m = re.search(r"persisted\s+(\d+) new messages .* for (\d+) acknowledged", open(sys.argv[2]).read())
persisted = "%s/%s" % (m.group(1), m.group(2)) if m else "-"
print("%.0f %.2f %d %d %s" % (r["rps"], r["latency"]["p99Ns"] / 1e6, r["acked"], r["failed"], persisted))
PY
}

rows=()
# ingress_round LABEL NATS_URL REPLICAS: closed loop, then 1 000 req/s, each checked against WEBHOOKS.
ingress_round() {
  local label=$1 url=$2 replicas=$3 c_rps c_p99 c_ok c_fail c_pers f_rps f_p99 f_ok f_fail f_pers
  start_ingress "$label" NATS_URL="$url" HOOKLINE_STREAM_REPLICAS="$replicas"
  read -r c_rps c_p99 c_ok c_fail c_pers < <(load "$label-closed" -c "$CONNS" -nats "$url")
  read -r f_rps f_p99 f_ok f_fail f_pers < <(load "$label-rate" -rate 1000 -c 32 -nats "$url")
  stop "$INGRESS_PID"
  echo "$label: closed loop $c_rps req/s, p99 $c_p99 ms (stored/acked $c_pers); 1000 req/s: p99 $f_p99 ms (stored/acked $f_pers)" >&2
  rows+=("| $label | $c_rps | $c_p99 | $f_p99 | $((c_fail + f_fail)) | $c_pers + $f_pers |")
  eval "${label}_rps=$c_rps"
}

# 1. R1 on one server, R3 on a 3-node cluster.
if runs ingress; then
NATS_PORT=$(free_port)
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$work/nats" >"$work/nats.log" 2>&1 &
NATS_PID=$!; pids+=("$NATS_PID")
wait_port "$NATS_PORT"
ingress_round R1 "nats://127.0.0.1:$NATS_PORT" 1
stop "$NATS_PID"
start_nats_cluster 3
ingress_round R3 "$NATS_CLUSTER_URL" 3
stop "${NATS_CLUSTER_PIDS[@]}"
fi

# 2. The spool engaged: nothing listens on NATS_URL's port.
if runs spool; then
# The disk's floor in the same sitting: one 4 KiB page written and fdatasync'd (a bbolt commit
# is two of those), median of 5 runs.
fsync_us=$(go test -run '^$' -bench 'Fdatasync/page$' -benchtime 1000x -count 5 ./services/ingress/internal/spool/ |
  awk '/^BenchmarkFdatasync/ {print $3}' | sort -n | awk '{v[NR]=$1} END {printf "%.0f", v[int((NR+1)/2)]/1000}')
closed=$(free_port)
start_ingress spool NATS_URL="nats://127.0.0.1:$closed" HOOKLINE_SPOOL_DIR="$work/spool" HOOKLINE_STREAM_REPLICAS=3
read -r s_frps s_fp99 s_fok s_ffail _ < <(load spool-rate -rate 1000 -c 32)
read -r s_crps s_cp99 s_cok s_cfail _ < <(load spool-closed -c "$CONNS")
curl -sf "http://127.0.0.1:$IADM/metrics" >"$work/spool-metrics.txt"
spooled=$(awk '/^hookline_spool_messages / {print $2}' "$work/spool-metrics.txt")
stop "$INGRESS_PID"
spool_check="yes: $spooled spooled for $((s_fok + s_cok)) acknowledged"
[ "${spooled%.*}" -ge $((s_fok + s_cok)) ] || spool_check="NO: $spooled spooled for $((s_fok + s_cok)) acknowledged"
commits=$(awk '/^hookline_spool_commits_total / {printf "%.0f", $2}' "$work/spool-metrics.txt")
per_commit=$(awk -v m="${spooled%.*}" -v c="$commits" 'BEGIN {printf "%.1f", (c > 0) ? m / c : 0}')
echo "spool: 1000 req/s p99 $s_fp99 ms; closed loop $s_crps req/s (p99 $s_cp99 ms); $spool_check; $commits commits ($per_commit per commit); fdatasync $fsync_us µs" >&2
fi

# 3. The worker on single Redis and on a Redis Cluster 3+3 (without WAIT and with WAIT 1, the
# default when the primaries have replicas).
if runs worker; then
HOOKLINE_TEST_NATS=binary go test -run '^$' -bench 'BenchmarkWorkerThroughput$|BenchmarkWorkerDurability/cluster' \
  -benchtime "${N}x" -count "$RUNS" ./services/worker/app | tee "$work/worker.out" >&2
read -r w_single w_c0 w_c1 < <(awk '
  /^Benchmark/ { for (i = 1; i <= NF; i++) if ($(i+1) == "events/s") {
      k = $1 ~ /wait=1/ ? "c1" : ($1 ~ /wait=0/ ? "c0" : "s"); sum[k] += $i; n[k]++ } }
  END { printf "%.0f %.0f %.0f\n", sum["s"]/n["s"], sum["c0"]/n["c0"], sum["c1"]/n["c1"] }' "$work/worker.out")
echo "worker: single $w_single events/s, cluster no WAIT $w_c0, WAIT 1 $w_c1" >&2
fi
[ -z "$ONLY" ] || exit 0 # one part: its figures are on stderr above, BENCHMARKS.md is left alone

# verdict VALUE OP TARGET UNIT: "met" or the distance to the target.
verdict() {
  awk -v v="$1" -v op="$2" -v t="$3" -v u="$4" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t
    if (ok) print "met"; else printf "not met, %.2f%s %s it (%.0f %% of the target)\n", (op == ">=") ? t - v : v - t, u, (op == ">=") ? "short of" : "over", 100 * v / t }'
}
r3=$(awk -v a="$R3_rps" -v b="$R1_rps" 'BEGIN {printf "%.2f", a / b}')
wc0=$(awk -v a="$w_c0" -v b="$w_single" 'BEGIN {printf "%.2f", a / b}')
wc1=$(awk -v a="$w_c1" -v b="$w_single" 'BEGIN {printf "%.2f", a / b}')
short=""
[ "$SECS" -ge 20 ] && [ "$N" -ge 100000 ] && [ "$RUNS" -ge 3 ] || short=" A short sitting (below the defaults 20 s, 100000 events, 3 runs): a trial of the script, not figures to judge by."

table=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $machine.$short
Command: \`scripts/bench-cluster.sh $SECS $N $RUNS\`. Every process (load generator, ingress, nats-servers, redis-servers) shares the cores.

Ingress, R1 on one nats-server against R3 on a 3-node cluster (loopback, file storage; \`NATS_URL\` lists the three servers): \`hookline bench -d ${SECS}s -c $CONNS\` (closed loop) and \`-rate 1000 -c 32\` (latency from the intended send time), each with \`-nats\` checking that every acknowledged webhook is in WEBHOOKS.

| streams | closed loop req/s | closed loop ack p99 (ms) | ack p99 at 1 000 req/s (ms) | never acknowledged | stored / acknowledged (closed + 1 000 req/s) |
|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")

R3 / R1 = $r3 (target ≥ 0.6: $(verdict "$r3" ">=" 0.6 "")).

Spool engaged (\`HOOKLINE_SPOOL_DIR\` set, \`NATS_URL\` on a port where nothing listens, so every webhook is synced to the spool before its 2xx):

| load | req/s | ack p99 (ms) | never acknowledged | target |
|---|---|---|---|---|
| 1 000 req/s for ${SECS}s | $s_frps | $s_fp99 | $s_ffail | p99 ≤ 20 ms: $(verdict "$s_fp99" "<=" 20 " ms") |
| closed loop, $CONNS in flight, ${SECS}s | $s_crps | $s_cp99 | $s_cfail | ≥ 5 000 req/s: $(verdict "$s_crps" ">=" 5000 " req/s") |

Every acknowledged webhook in the spool (\`hookline_spool_messages\`): $spool_check, in $commits synced transactions ($per_commit webhooks per commit, \`hookline_spool_commits_total\`). The disk's floor in this sitting: one 4 KiB page written and \`fdatasync\`'d takes $fsync_us µs (median; \`go test -bench Fdatasync/page ./services/ingress/internal/spool/\`); a commit is two of them, so a lone webhook waits at least about $((2 * fsync_us)) µs, and the rate is bounded by (webhooks per commit) / (commit time).

Worker, one process (\`HOOKLINE_TEST_NATS=binary go test -run '^\$' -bench 'BenchmarkWorkerThroughput\$|BenchmarkWorkerDurability/cluster' -benchtime ${N}x -count $RUNS ./services/worker/app\`; mean of $RUNS runs over $N pre-published Petstore events):

| Redis | events/s | / single |
|---|---|---|
| single redis-server | $w_single | 1.00 |
| Redis Cluster 3+3, no WAIT | $w_c0 | $wc0 |
| Redis Cluster 3+3, WAIT 1 (the default with replicas) | $w_c1 | $wc1 |

Target ≥ 0.8 of single Redis: without WAIT $(verdict "$wc0" ">=" 0.8 ""), with WAIT 1 $(verdict "$wc1" ">=" 0.8 "").
EOT
)
write_section cluster "$table"
echo "$table"
