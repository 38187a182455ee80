#!/usr/bin/env bash
# CPU time per webhook, per process and in total, of the whole pipeline from its binaries:
# nats-server (JetStream, file store), redis-server, one ingress, one worker, each on a free
# loopback port with its data in a temp dir. For each rate, `hookline bench` sends the webhook mix
# of scripts/bench-e2e.sh (duplicates, shuffling) at that fixed rate; the CPU time each process
# spends (utime+stime from /proc/<pid>/stat) from just before the load until the worker's consumer
# has nothing pending or unacknowledged (load AND drain) is divided by the webhooks acknowledged.
# Beside it, per webhook: NATS messages in and out (/varz deltas, a proxy for round trips),
# canonical events stored in ORDERS, and Redis reads and commands (INFO deltas). Each run is on a
# fresh pipeline and is then checked with `hookline verify`; any lost, duplicated or wrong-state
# order fails the script and nothing is written.
#
#   scripts/bench-cpu.sh [-d SECONDS] [RATE ...]   default 20 s at 500 1000 2000 4000 req/s;
#                                                  writes BENCHMARKS.md between the cpu markers
#   scripts/bench-cpu.sh --short                   quick check: 5 s at 500 and 2000 req/s,
#                                                  BENCHMARKS.md untouched
#   scripts/bench-cpu.sh --before REF [--rounds N] [-d SECONDS] [RATE ...]
#       before and after in one sitting: builds the ingress and worker of git REF (e.g. main) into
#       a temp dir beside those of the working tree, then runs both, alternating (before, after;
#       then after, before; …) N rounds (default 2) at each rate (default 10 s at 1000 and 2000),
#       and prints per process the CPU time per webhook of each (user + system), the change, and
#       the NATS and Redis traffic per webhook. Writes BENCHMARKS.md between the cpu-compare
#       markers. REF "." builds the working tree twice: with --env-before/--env-after that
#       compares settings (e.g. --before . --env-after GOMAXPROCS=1).
#   options: --no-write (never touch BENCHMARKS.md), --write (write even with --short),
#            --section cpu-gomaxprocs (with --before: write that section instead of cpu-compare),
#            --env-before 'K=V …', --env-after 'K=V …' (extra environment for that side's
#            ingress and worker, with --before; NATS_SERVER=PATH there picks that side's
#            nats-server binary)
#
# The load generator (built from the working tree for both sides) shares the cores but is not
# counted. The bench does not subscribe to ORDERS (no -nats), so nats-server delivers nothing
# beyond what the pipeline itself needs.
# Environment: NATS_SERVER=PATH runs that nats-server binary instead of the one on PATH.
# BENCH_CPU_KEEP=1 keeps the temp dir (logs, bench JSON, counters) and prints its path.
# BENCH_CPU_PPROF=DIR starts both services with HOOKLINE_PPROF=true (and nats-server with
# --profile) and saves a CPU profile of each one that serves /debug/pprof, over each rate's
# load, as DIR/<service>-<rate>.pprof (read with `go tool pprof -top`); profiling perturbs the
# figures, so BENCHMARKS.md is then left untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

short=0 write="" secs="" rates=() before="" rounds="" env_before="" env_after="" section_name=""
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=1 ;;
    --write) write=1 ;;
    --no-write) write=0 ;;
    -d | --before | --rounds | --env-before | --env-after | --section)
      [ $# -ge 2 ] || { echo "bench-cpu: $1 needs a value" >&2; exit 2; }
      case $1 in
        -d) secs=$2 ;; --before) before=$2 ;; --rounds) rounds=$2 ;;
        --env-before) env_before=$2 ;; --env-after) env_after=$2 ;; --section) section_name=$2 ;;
      esac
      shift ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "bench-cpu: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) rates+=("$1") ;;
  esac
  shift
done
if [ -n "$before" ]; then def_secs=10 def_rates=(1000 2000)
elif [ "$short" = 1 ]; then def_secs=5 def_rates=(500 2000)
else def_secs=20 def_rates=(500 1000 2000 4000); fi
SECS=${secs:-$def_secs}
ROUNDS=${rounds:-2}
[ ${#rates[@]} -gt 0 ] || rates=("${def_rates[@]}")
[ -n "$write" ] || { if [ "$short" = 1 ]; then write=0; else write=1; fi; }
for n in "$SECS" "$ROUNDS" "${rates[@]}"; do
  case $n in '' | *[!0-9]* | 0) echo "bench-cpu: seconds, rounds and rates are positive whole numbers, got '$n'" >&2; exit 2 ;; esac
done
if [ -z "$before" ] && { [ -n "$rounds" ] || [ -n "$env_before" ] || [ -n "$env_after" ] || [ -n "$section_name" ]; }; then
  echo "bench-cpu: --rounds, --env-before, --env-after and --section go with --before REF" >&2; exit 2
fi
case $section_name in '' | cpu-compare | cpu-gomaxprocs) ;; *) echo "bench-cpu: --section is cpu-compare or cpu-gomaxprocs" >&2; exit 2 ;; esac
for tool in "$NATS_SERVER" redis-server redis-cli curl python3 go git; do
  command -v "$tool" >/dev/null || { echo "bench-cpu: needs $tool" >&2; exit 1; }
done
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

work=$(mktemp -d)
pids=()
keep_work=${BENCH_CPU_KEEP:-0}
PPROF_DIR=${BENCH_CPU_PPROF:-}
prof_env=()
if [ -n "$PPROF_DIR" ]; then
  mkdir -p "$PPROF_DIR"; PPROF_DIR=$(cd "$PPROF_DIR" && pwd); write=0; prof_env=(HOOKLINE_PPROF=true); NATS_PROF=1
fi
trap kill_started EXIT

machine=$(machine_line)
echo "bench-cpu: $machine" >&2
head_rev=$(git rev-parse --short HEAD)
# BENCHMARKS.md is what this script writes: a change there is not a change to what it measures.
dirty=""; [ -z "$(git status --porcelain --untracked-files=no -- . ':!BENCHMARKS.md')" ] || dirty=" with uncommitted changes"
mkdir -p "$work/after"
go build -o "$work/after/" ./services/ingress ./services/worker
go build -o "$work/" ./cmd/hookline
sides=(after)
if [ -n "$before" ]; then
  mkdir -p "$work/before"
  if [ "$before" = . ]; then
    before_rev="$head_rev$dirty (the working tree)"
    go build -o "$work/before/" ./services/ingress ./services/worker
  else
    before_rev="$before ($(git rev-parse --short "$before^{commit}"))"
    mkdir -p "$work/before-src"
    git archive "$before^{commit}" | tar -x -C "$work/before-src"
    (cd "$work/before-src" && go build -o "$work/before/" ./services/ingress ./services/worker)
  fi
  echo "bench-cpu: before = $before_rev, after = $head_rev$dirty" >&2
  sides=(before after)
fi

# cpu_ticks PID: "utime stime" of the whole process (all threads), in clock ticks. The fields are
# counted after the command name's closing parenthesis, which may itself hold spaces.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12, $13}' "/proc/$1/stat"; }

cpu_counters() {
  local name pid t
  for name in ingress worker nats redis; do
    case $name in ingress) pid=$INGRESS_PID ;; worker) pid=$WORKER_PID ;; nats) pid=$NATS_PID ;; redis) pid=$REDIS_PID ;; esac
    t=$(cpu_ticks "$pid")
    echo "cpuu $name ${t% *}"; echo "cpus $name ${t#* }"
    echo "ctxsw $name $(ctx_switches "$pid")"
  done
}

# ctx_switches PID: context switches of all the process's threads so far (voluntary: a thread
# went to sleep waiting, i.e. one wake-up each; and involuntary), from /proc/PID/task/*/status.
ctx_switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches:/ {n += $2} END {print n + 0}'
}
side_counters() {
  curl -sf "http://127.0.0.1:$NATS_MON/varz" |
    python3 -c 'import json, sys; v = json.load(sys.stdin); print("nats in", v["in_msgs"]); print("nats out", v["out_msgs"])'
  curl -sf "http://127.0.0.1:$NATS_MON/jsz?streams=true" | python3 -c '
import json, sys
for acc in json.load(sys.stdin).get("account_details") or []:
    for st in acc.get("stream_detail") or []:
        print("stream", st["name"], st["state"]["messages"])'
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

# run_one SIDE ROUND RATE: one run on a fresh pipeline of SIDE's binaries; appends its record (a
# JSON line) to $work/records, and creates $work/failed when verification failed.
run_one() {
  local side=$1 round=$2 rate=$3 conns load extra=() dir
  dir="$work/run-$side-$round-$rate"
  conns=$(bench_conns "$rate")
  case $side in before) read -ra extra <<<"$env_before" ;; after) read -ra extra <<<"$env_after" ;; esac
  # NATS_SERVER=PATH among a side's settings picks that side's nats-server binary.
  local kv svc_extra=() server=$NATS_SERVER
  for kv in "${extra[@]}"; do
    case $kv in NATS_SERVER=*) server=${kv#NATS_SERVER=} ;; *) svc_extra+=("$kv") ;; esac
  done
  NATS_SERVER=$server PIPE_BIN="$work/$side" PIPE_DIR="$dir" start_pipeline "${prof_env[@]}" "${svc_extra[@]}"
  sleep 1 # let start-up settle out of the window
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "bench-cpu: $side, round $round: $rate req/s for ${SECS}s (load average $load)" >&2
  snapshot "$dir/start" start
  local prof=() svc p
  if [ -n "$PPROF_DIR" ]; then
    for svc in "ingress $IADM" "worker $WADM" "nats-server $NATS_PROF_PORT"; do
      set -- $svc
      curl -sf -o "$PPROF_DIR/$1-$rate.pprof" "http://127.0.0.1:$2/debug/pprof/profile?seconds=$SECS" &
      prof+=("$!:$1")
    done
  fi
  local t0 t1 t2 vrc=0
  t0=$(date +%s.%N)
  "$work/hookline" bench -q -rate "$rate" -d "${SECS}s" -c "$conns" "${BENCH_MIX[@]}" \
    -target "http://127.0.0.1:$HTTP" -json "$dir/bench.json" -oracle "$dir/oracle.json" >"$dir/bench.txt"
  t1=$(date +%s.%N)
  for p in "${prof[@]}"; do
    wait "${p%%:*}" || { echo "bench-cpu: no CPU profile from the ${p#*:} (does it serve /debug/pprof?)" >&2; rm -f "$PPROF_DIR/${p#*:}-$rate.pprof"; }
  done
  wait_drained 120
  t2=$(date +%s.%N)
  snapshot "$dir/end" end
  "$work/hookline" verify -oracle "$dir/oracle.json" -url "http://127.0.0.1:$WADM" -nats "$NATS_URL" -wait 60s >"$dir/verify.txt" 2>&1 || vrc=$?
  python3 - "$side" "$round" "$rate" "$load" "$TICK_US" "$dir" "$t0" "$t1" "$t2" "$vrc" "${extra[*]}" <<'PY' >>"$work/records" || touch "$work/failed"
import json, sys
side, rnd, rate, load, tick_us, d, t0, t1, t2, vrc, env = sys.argv[1:]
tick_us = int(tick_us)
def read(path):
    out = {}
    for line in open(path):
        kind, name, value = line.split()
        out[(kind, name)] = int(value)
    return out
a, b = read(d + "/start"), read(d + "/end")
delta = {k: b[k] - a.get(k, 0) for k in b}
r = json.load(open(d + "/bench.json"))
acked = r["acked"]
if acked == 0:
    sys.exit("bench-cpu: nothing acknowledged at %s req/s" % rate)
procs = ["ingress", "worker", "nats", "redis"]
user = {p: delta[("cpuu", p)] * tick_us / acked for p in procs}
ctxsw = {p: delta[("ctxsw", p)] / acked for p in procs}
system = {p: delta[("cpus", p)] * tick_us / acked for p in procs}
redis = {k[1]: v / acked for k, v in delta.items() if k[0] == "redis" and k[1] != "info" and v > 0}
lines = open(d + "/verify.txt").read().strip().splitlines()
verdict = (lines[-1] if lines else "?").replace("|", "/")
if vrc != "0":
    verdict = "FAILED: " + verdict
print(json.dumps({
    "side": side, "round": int(rnd), "rate": int(rate), "load": load, "env": env,
    "rps": r["rps"], "acked": acked, "requests": r["requests"],
    "user": user, "system": system, "ctxsw": ctxsw,
    "load_s": float(t1) - float(t0), "drain_s": float(t2) - float(t1),
    "nats_in": delta[("nats", "in")] / acked, "nats_out": delta[("nats", "out")] / acked,
    "orders": delta.get(("stream", "ORDERS"), 0) / acked,
    # The messages the design needs: per request its publish and PubAck, per stored webhook its
    # delivery and ack, per canonical event its publish and PubAck (as many in as out).
    "nats_floor": (r["requests"] + delta.get(("stream", "WEBHOOKS"), 0) + delta.get(("stream", "ORDERS"), 0)) / acked,
    "redis_reads": delta[("redisio", "reads")] / acked, "redis": redis, "verify": verdict, "ok": vrc == "0",
}))
total = sum(user.values()) + sum(system.values())
print("bench-cpu: %s req/s: %d acknowledged, total %.0f µs per webhook; %s" % (rate, acked, total, verdict), file=sys.stderr)
sys.exit(0 if vrc == "0" else 1)
PY
  stop_pipeline
  [ "$keep_work" = 1 ] || rm -rf "$dir/nats"
  sleep 2
}

: >"$work/records"
if [ -n "$before" ]; then
  for round in $(seq 1 "$ROUNDS"); do
    order=(before after); [ $((round % 2)) = 0 ] && order=(after before)
    for rate in "${rates[@]}"; do
      for side in "${order[@]}"; do run_one "$side" "$round" "$rate"; done
    done
  done
else
  for rate in "${rates[@]}"; do run_one after 1 "$rate"; done
fi

cmd="scripts/bench-cpu.sh"
[ -n "$before" ] && cmd+=" --before $before"
[ -n "$rounds" ] && cmd+=" --rounds $rounds"
[ -n "$env_before" ] && cmd+=" --env-before '$env_before'"
[ -n "$env_after" ] && cmd+=" --env-after '$env_after'"
[ -n "$section_name" ] && cmd+=" --section $section_name"
[ "$short" = 1 ] && cmd+=" --short"
[ -n "$secs" ] && cmd+=" -d $secs"
[ "$(printf '%s ' "${rates[@]}")" = "$(printf '%s ' "${def_rates[@]}")" ] || cmd+=" ${rates[*]}"
mix="each run: a fresh pipeline, \`hookline bench -rate R -d ${SECS}s -c max(32,R/25) ${BENCH_MIX[*]}\`, no \`-nats\`, then \`hookline verify\`"

if [ -z "$before" ]; then
  section=$(python3 - "$work/records" "$machine" "$cmd" "$mix" "$(date -u +%Y-%m-%d)" <<'PY'
import json, sys
path, machine, cmd, mix, day = sys.argv[1:]
recs = [json.loads(l) for l in open(path)]
procs = ["ingress", "worker", "nats", "redis"]
us = lambda r, p: r["user"][p] + r["system"][p]
print("Measured %s on %s. Command: `%s` (%s)." % (day, machine, cmd, mix))
print("""CPU time (utime+stime, all threads) from just before the load until the worker's consumer has
nothing pending or unacknowledged, divided by the webhooks acknowledged; the load generator
shares the cores and is not counted. Load is the 1-minute load average when the rate started.

| rate | load | achieved req/s | acknowledged | not acknowledged | ingress | worker | nats-server | redis-server | total per webhook |
|---|---|---|---|---|---|---|---|---|---|""")
for r in recs:
    print("| %d | %s | %.0f | %d | %d | %s | **%.0f µs** |" % (r["rate"], r["load"], r["rps"], r["acked"], r["requests"] - r["acked"],
        " | ".join("%.0f µs" % us(r, p) for p in procs), sum(us(r, p) for p in procs)))
print("""
Per webhook acknowledged, over the same window: NATS messages into and out of nats-server
(`/varz` in_msgs and out_msgs: publishes, PubAcks, pull requests, deliveries, acks) and the floor
the design needs (per request a publish in and a PubAck out, per stored webhook a delivery out
and an ack in, per canonical event a publish in and a PubAck out), canonical events stored in
ORDERS, Redis reads from clients (`INFO stats` total_reads_processed: about one
per round trip, a pipeline counting once) and Redis commands (`INFO commandstats`, commands run
inside scripts included; the five most called shown); context switches are those of every thread
of each process (`/proc/PID/task/*/status`: a voluntary one is a thread going to sleep, so about
one wake-up each).

| rate | load + drain | context switches: ingress / worker / nats / redis | NATS in msgs | NATS out msgs | NATS floor (each way) | canonical events | Redis reads | Redis commands | Redis by command | verify |
|---|---|---|---|---|---|---|---|---|---|---|""")
for r in recs:
    top = ", ".join("%s %.2f" % kv for kv in sorted(r["redis"].items(), key=lambda kv: -kv[1])[:5])
    print("| %d | %.1f + %.1f s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s |" % (r["rate"], r["load_s"], r["drain_s"],
        " / ".join("%.1f" % r["ctxsw"][p] for p in procs), r["nats_in"], r["nats_out"], r["nats_floor"], r["orders"], r["redis_reads"], sum(r["redis"].values()), top, r["verify"]))
PY
)
  marker=cpu
else
  section=$(python3 - "$work/records" "$machine" "$cmd" "$mix" "$(date -u +%Y-%m-%d)" "$before_rev" "$head_rev$dirty" "$env_before" "$env_after" <<'PY'
import json, statistics, sys
path, machine, cmd, mix, day, before_rev, after_rev, env_before, env_after = sys.argv[1:]
recs = [json.loads(l) for l in open(path)]
procs = [("ingress", "ingress"), ("worker", "worker"), ("nats", "nats-server"), ("redis", "redis-server")]
rates = sorted({r["rate"] for r in recs})
mean = statistics.mean
def runs(side, rate): return [r for r in recs if r["side"] == side and r["rate"] == rate]
def fmt_env(e): return " with `%s`" % e if e else ""
n = max(r["round"] for r in recs)
print("Measured %s on %s. Command: `%s` (%s)." % (day, machine, cmd, mix))
print("Before: %s%s. After: %s%s. The two sides alternate (before, after; then after, before), %d round%s at each rate; figures are means over the rounds."
      % (before_rev, fmt_env(env_before), after_rev, fmt_env(env_after), n, "" if n == 1 else "s"))
print("CPU time per webhook acknowledged, user + system, from just before the load until the worker's consumer is drained; the load generator is not counted.")
for rate in rates:
    b, a = runs("before", rate), runs("after", rate)
    print()
    print("Where each microsecond went at %d req/s, per webhook:" % rate)
    print()
    print("| process | before: user + system | after: user + system | change |")
    print("|---|---|---|---|")
    tb = ta = 0.0
    for key, name in procs:
        bu, bs = mean(r["user"][key] for r in b), mean(r["system"][key] for r in b)
        au, as_ = mean(r["user"][key] for r in a), mean(r["system"][key] for r in a)
        tb += bu + bs; ta += au + as_
        print("| %s | %.0f µs (%.0f + %.0f) | %.0f µs (%.0f + %.0f) | %+.0f µs (%+.0f %%) |" % (name, bu + bs, bu, bs, au + as_, au, as_,
              au + as_ - bu - bs, 100 * (au + as_ - bu - bs) / (bu + bs) if bu + bs else 0))
    print("| **total** | **%.0f µs** | **%.0f µs** | **%+.0f µs (%+.0f %%)** |" % (tb, ta, ta - tb, 100 * (ta - tb) / tb if tb else 0))
    row = lambda label, f, p="%.2f": print("| %s | %s | %s | %s |" % (label, p % mean(f(r) for r in b), p % mean(f(r) for r in a),
                                                                      ("%+.2f" % (mean(f(r) for r in a) - mean(f(r) for r in b)))))
    for key, name in procs:
        row("%s context switches / webhook" % name, lambda r, key=key: r["ctxsw"][key])
    row("NATS messages in / webhook", lambda r: r["nats_in"])
    row("NATS messages out / webhook", lambda r: r["nats_out"])
    row("NATS messages in beyond the floor / webhook", lambda r: r["nats_in"] - r["nats_floor"])
    row("NATS messages out beyond the floor / webhook", lambda r: r["nats_out"] - r["nats_floor"])
    row("canonical events / webhook", lambda r: r["orders"])
    row("Redis reads (round trips) / webhook", lambda r: r["redis_reads"])
    row("Redis commands / webhook", lambda r: sum(r["redis"].values()))
print()
print("Every run:")
print()
print("| side | round | rate | load | achieved req/s | acknowledged | ingress | worker | nats-server | redis-server | total | verify |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in sorted(recs, key=lambda r: (r["rate"], r["round"], r["side"] != "before")):
    us = [r["user"][k] + r["system"][k] for k, _ in procs]
    print("| %s | %d | %d | %s | %.0f | %d/%d | %s | **%.0f µs** | %s |" % (r["side"], r["round"], r["rate"], r["load"], r["rps"],
          r["acked"], r["requests"], " | ".join("%.0f µs" % u for u in us), sum(us), r["verify"]))
PY
)
  marker=${section_name:-cpu-compare}
fi
echo "$section"
if [ -e "$work/failed" ]; then
  echo "bench-cpu: verification failed (see the verify column); BENCHMARKS.md untouched" >&2
  exit 1
fi
if [ "$write" = 1 ]; then write_section "$marker" "$section"; echo "bench-cpu: wrote the $marker section of BENCHMARKS.md" >&2; fi
