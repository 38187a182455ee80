#!/usr/bin/env bash
# CPU time per webhook, per process and in total, of the whole pipeline from its binaries:
# nats-server (JetStream, file store), redis-server, one ingress, one worker, each on a free
# loopback port with its data in a temp dir. For each rate, `hookline bench` sends the webhook mix
# of scripts/bench-e2e.sh (duplicates, shuffling) at that fixed rate; the CPU time each process
# spends (utime+stime from /proc/<pid>/stat) from just before the load until the worker's consumer
# has nothing pending or unacknowledged (load AND drain) is divided by the webhooks acknowledged.
# Beside it, per webhook: NATS messages in and out (/varz deltas, a proxy for round trips) and
# Redis commands (INFO commandstats deltas). Each run is then checked with `hookline verify`;
# any lost, duplicated or wrong-state order fails the script and nothing is written.
#
#   scripts/bench-cpu.sh [-d SECONDS] [RATE ...]   default 20 s at 500 1000 2000 4000 req/s;
#                                                  writes BENCHMARKS.md between the cpu markers
#   scripts/bench-cpu.sh --short                   quick check: 5 s at 500 and 2000 req/s,
#                                                  BENCHMARKS.md untouched
#   options: --no-write (never touch BENCHMARKS.md), --write (write even with --short)
#
# The load generator shares the cores but is not counted. The bench does not subscribe to ORDERS
# (no -nats), so nats-server delivers nothing beyond what the pipeline itself needs.
# Environment: BENCH_CPU_KEEP=1 keeps the temp dir (logs, bench JSON, counters) and prints its path.
# BENCH_CPU_PPROF=DIR starts both services with HOOKLINE_PPROF=true and saves a CPU profile of each
# one that serves /debug/pprof, over each rate's load, as DIR/<service>-<rate>.pprof (read with
# `go tool pprof -top`); profiling perturbs the figures, so BENCHMARKS.md is then left untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

short=0 write="" secs="" rates=()
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --write) write=1 ;;
    --no-write) write=0 ;;
    -d) [ $# -ge 2 ] || { echo "bench-cpu: -d needs seconds" >&2; exit 2; }; secs=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "bench-cpu: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) rates+=("$1") ;;
  esac
  shift
done
if [ "$short" = 1 ]; then def_secs=5 def_rates=(500 2000); else def_secs=20 def_rates=(500 1000 2000 4000); fi
SECS=${secs:-$def_secs}
[ ${#rates[@]} -gt 0 ] || rates=("${def_rates[@]}")
[ -n "$write" ] || { if [ "$short" = 1 ]; then write=0; else write=1; fi; }
for n in "$SECS" "${rates[@]}"; do
  case $n in '' | *[!0-9]* | 0) echo "bench-cpu: seconds and rates are positive whole numbers, got '$n'" >&2; exit 2 ;; esac
done
for tool in nats-server redis-server redis-cli curl python3 go; do
  command -v "$tool" >/dev/null || { echo "bench-cpu: needs $tool" >&2; exit 1; }
done
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

work=$(mktemp -d)
pids=()
keep_work=${BENCH_CPU_KEEP:-0}
PPROF_DIR=${BENCH_CPU_PPROF:-}
svc_env=()
if [ -n "$PPROF_DIR" ]; then
  mkdir -p "$PPROF_DIR"; PPROF_DIR=$(cd "$PPROF_DIR" && pwd); write=0; svc_env=(HOOKLINE_PPROF=true)
fi
trap kill_started EXIT

machine=$(machine_line)
echo "bench-cpu: $machine" >&2
go build -o "$work/" ./services/ingress ./services/worker ./cmd/hookline
start_pipeline "${svc_env[@]}"

# cpu_ticks PID: utime+stime of the whole process (all threads), in clock ticks. The fields are
# counted after the command name's closing parenthesis, which may itself hold spaces.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

cpu_counters() {
  echo "cpu ingress $(cpu_ticks "$INGRESS_PID")"; echo "cpu worker $(cpu_ticks "$WORKER_PID")"
  echo "cpu nats $(cpu_ticks "$NATS_PID")"; echo "cpu redis $(cpu_ticks "$REDIS_PID")"
}
side_counters() {
  curl -sf "http://127.0.0.1:$NATS_MON/varz" |
    python3 -c 'import json, sys; v = json.load(sys.stdin); print("nats in", v["in_msgs"]); print("nats out", v["out_msgs"])'
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" INFO stats commandstats | tr -d '\r' |
    sed -n -e 's/^cmdstat_\([^:]*\):calls=\([0-9]*\).*/redis \1 \2/p' -e 's/^total_reads_processed:\([0-9]*\)/redisio reads \1/p'
}

# snapshot FILE start|end: the counters of the four processes; the monitoring calls are made
# outside the measured window (before the CPU reading at the start, after it at the end).
snapshot() {
  if [ "$2" = start ]; then { side_counters; cpu_counters; } >"$1"; else { cpu_counters; side_counters; } >"$1"; fi
}

# wait_drained LIMIT_SECONDS: until the worker consumer on WEBHOOKS has nothing pending and
# nothing unacknowledged, read from nats-server's HTTP monitoring (no NATS messages).
wait_drained() {
  python3 - "$NATS_MON" "$1" <<'PY'
import json, sys, time, urllib.request
url = "http://127.0.0.1:%s/jsz?accounts=true&streams=true&consumers=true" % sys.argv[1]
deadline = time.time() + float(sys.argv[2])
while True:
    pending = None
    for acc in json.load(urllib.request.urlopen(url)).get("account_details") or []:
        for st in acc.get("stream_detail") or []:
            if st.get("name") != "WEBHOOKS":
                continue
            for c in st.get("consumer_detail") or []:
                if c.get("name") == "worker":
                    pending = (c.get("num_pending", 0), c.get("num_ack_pending", 0))
    if pending == (0, 0):
        sys.exit(0)
    if time.time() > deadline:
        sys.exit("worker consumer not drained in %ss: pending/unacknowledged %s" % (sys.argv[2], pending))
    time.sleep(0.1)
PY
}

: >"$work/cpu-rows"; : >"$work/side-rows"
failed=0
for rate in "${rates[@]}"; do
  conns=$(bench_conns "$rate")
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "bench-cpu: $rate req/s for ${SECS}s (load average $load)" >&2
  snapshot "$work/start-$rate" start
  prof=()
  if [ -n "$PPROF_DIR" ]; then
    for svc in "ingress $IADM" "worker $WADM"; do
      set -- $svc
      curl -sf -o "$PPROF_DIR/$1-$rate.pprof" "http://127.0.0.1:$2/debug/pprof/profile?seconds=$SECS" &
      prof+=("$!:$1")
    done
  fi
  t0=$(date +%s.%N)
  "$work/hookline" bench -q -rate "$rate" -d "${SECS}s" -c "$conns" "${BENCH_MIX[@]}" \
    -target "http://127.0.0.1:$HTTP" -json "$work/bench-$rate.json" -oracle "$work/oracle-$rate.json" >"$work/bench-$rate.txt"
  t1=$(date +%s.%N)
  for p in "${prof[@]}"; do
    wait "${p%%:*}" || { echo "bench-cpu: no CPU profile from the ${p#*:} (does it serve /debug/pprof?)" >&2; rm -f "$PPROF_DIR/${p#*:}-$rate.pprof"; }
  done
  wait_drained 120
  t2=$(date +%s.%N)
  snapshot "$work/end-$rate" end
  vrc=0
  "$work/hookline" verify -oracle "$work/oracle-$rate.json" -url "http://127.0.0.1:$WADM" -nats "$NATS_URL" -wait 60s >"$work/verify-$rate.txt" 2>&1 || vrc=$?
  python3 - "$rate" "$load" "$TICK_US" "$work/bench-$rate.json" "$work/start-$rate" "$work/end-$rate" \
    "$t0" "$t1" "$t2" "$work/verify-$rate.txt" "$vrc" "$work/cpu-rows" "$work/side-rows" <<'PY' || failed=1
import json, sys
rate, load, tick_us, bench, start, end, t0, t1, t2, vpath, vrc, cpu_rows, side_rows = sys.argv[1:]
tick_us, t0, t1, t2 = int(tick_us), float(t0), float(t1), float(t2)
def read(path):
    out = {}
    for line in open(path):
        kind, name, value = line.split()
        out[(kind, name)] = int(value)
    return out
a, b = read(start), read(end)
d = {k: b[k] - a.get(k, 0) for k in b}
r = json.load(open(bench))
acked = r["acked"]
if acked == 0:
    sys.exit("bench-cpu: nothing acknowledged at %s req/s" % rate)
us = lambda name: d[("cpu", name)] * tick_us / acked
procs = ["ingress", "worker", "nats", "redis"]
total = sum(us(p) for p in procs)
redis = {k[1]: v for k, v in d.items() if k[0] == "redis" and k[1] != "info" and v > 0}
top = ", ".join("%s %.2f" % (n, c / acked) for n, c in sorted(redis.items(), key=lambda kv: -kv[1])[:5])
lines = open(vpath).read().strip().splitlines()
verdict = (lines[-1] if lines else "?").replace("|", "/")
if vrc != "0":
    verdict = "FAILED: " + verdict
open(cpu_rows, "a").write("| %s | %s | %.0f | %d | %d | %.0f µs | %.0f µs | %.0f µs | %.0f µs | **%.0f µs** |\n" % (
    rate, load, r["rps"], acked, r["requests"] - acked,
    us("ingress"), us("worker"), us("nats"), us("redis"), total))
open(side_rows, "a").write("| %s | %.1f + %.1f s | %.2f | %.2f | %.2f | %.2f | %s | %s |\n" % (
    rate, t1 - t0, t2 - t1, d[("nats", "in")] / acked, d[("nats", "out")] / acked,
    d[("redisio", "reads")] / acked, sum(redis.values()) / acked, top, verdict))
print("bench-cpu: %s req/s: %d acknowledged, total %.0f µs per webhook; %s" % (rate, acked, total, verdict), file=sys.stderr)
sys.exit(0 if vrc == "0" else 1)
PY
  sleep 2
done

cmd="scripts/bench-cpu.sh"; [ "$short" = 1 ] && cmd+=" --short"
[ -n "$secs" ] && cmd+=" -d $secs"
[ "$(printf '%s ' "${rates[@]}")" = "$(printf '%s ' "${def_rates[@]}")" ] || cmd+=" ${rates[*]}"
section=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $machine. Command: \`$cmd\` (each rate: \`hookline bench -rate R -d ${SECS}s -c max(32,R/25) ${BENCH_MIX[*]}\`, no \`-nats\`, then \`hookline verify\`).
CPU time (utime+stime, all threads) from just before the load until the worker's consumer has
nothing pending or unacknowledged, divided by the webhooks acknowledged; the load generator
shares the cores and is not counted. Load is the 1-minute load average when the rate started.

| rate | load | achieved req/s | acknowledged | not acknowledged | ingress | worker | nats-server | redis-server | total per webhook |
|---|---|---|---|---|---|---|---|---|---|
$(cat "$work/cpu-rows")

Per webhook acknowledged, over the same window: NATS messages into and out of nats-server
(\`/varz\` in_msgs and out_msgs: publishes, PubAcks, pull requests, deliveries, acks), Redis
reads from clients (\`INFO stats\` total_reads_processed: about one per round trip, a pipeline
counting once) and Redis commands (\`INFO commandstats\`, commands run inside scripts included;
the five most called shown).

| rate | load + drain | NATS in msgs | NATS out msgs | Redis reads | Redis commands | Redis by command | verify |
|---|---|---|---|---|---|---|---|
$(cat "$work/side-rows")
EOT
)
echo "$section"
if [ "$failed" != 0 ]; then
  echo "bench-cpu: verification failed (see the verify column); BENCHMARKS.md untouched" >&2
  exit 1
fi
if [ "$write" = 1 ]; then write_section cpu "$section"; echo "bench-cpu: wrote the cpu section of BENCHMARKS.md" >&2; fi
