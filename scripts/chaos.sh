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

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

short=0 write=""
args=()
for a in "$@"; do
  case $a in
    --short) short=1 ;;
    --write) write=1 ;;
    --no-write) write=0 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "chaos: unknown option $a" >&2; usage >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
if [ "$short" = 1 ]; then def_secs=30 def_rate=300; else def_secs=60 def_rate=500; fi
SECS=${args[0]:-$def_secs}
RATE=${args[1]:-$def_rate}
[ -n "$write" ] || { if [ "$short" = 1 ]; then write=0; else write=1; fi; }
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
case "$SECS$RATE" in *[!0-9]*) echo "chaos: seconds and rate are whole numbers" >&2; exit 2 ;; esac
[ ${#args[@]} -le 2 ] || { echo "chaos: at most two arguments, seconds and rate" >&2; exit 2; }
[ "$SECS" -ge 10 ] || { echo "chaos: run at least 10 seconds" >&2; exit 2; }
[ "$RATE" -ge 1 ] || { echo "chaos: the rate is at least 1 request/s" >&2; exit 2; }
for tool in nats-server redis-server redis-cli curl go; do
  command -v "$tool" >/dev/null || { echo "chaos: $tool is not on PATH (scripts/deps.sh installs the servers)" >&2; exit 1; }
done
# python3 only renders the results section; without it a run still passes or fails the same.
have_python=0
command -v python3 >/dev/null && have_python=1
[ "$have_python" = 1 ] || [ "$write" = 0 ] || { echo "chaos: writing BENCHMARKS.md needs python3 (or use --no-write)" >&2; exit 1; }

ts() { date -u +%T.%3N; }
now_ms() { date +%s%3N; }
log() { printf '%s %s\n' "$(ts)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
run_start=$(now_ms)

work=$(mktemp -d "${TMPDIR:-/tmp}/hookline-chaos.XXXXXX")
bin=$work/exe
mkdir -p "$bin" "$work/logs" "$work/nats" "$work/redis"
declare -A pid=()
bench_pid=""
cleanup() {
  local rc=$?
  set +e
  [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null
  for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null; done
  for _ in $(seq 1 50); do
    local alive=0
    for name in "${!pid[@]}"; do kill -0 "${pid[$name]}" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for name in "${!pid[@]}"; do kill -KILL "${pid[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$rc" != 0 ]; then
    for f in "$work"/logs/*.log; do
      [ -s "$f" ] || continue
      printf '\n---- last lines of %s ----\n' "$(basename "$f")" >&2
      tail -n 25 "$f" >&2
    done
  fi
  if [ "${CHAOS_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    echo "chaos: logs and data kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, all different: the kernel's choice (bound to port 0, all held at once, in
# one python3 call) when python3 is there, else random ports below the ephemeral range that
# nothing answers on.
free_ports() { # count
  if [ "$have_python" = 1 ]; then
    python3 -c 'import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
    return
  fi
  local taken=" " p n=0
  while [ "$n" -lt "$1" ]; do
    p=$((20000 + RANDOM % 12000))
    case $taken in *" $p "*) continue ;; esac
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    taken+="$p "
    n=$((n + 1))
  done
  echo "$taken"
}
read -r NATS_PORT NATS_MON REDIS_PORT HTTP_PORT INGRESS_ADMIN DISPATCHER_ADMIN WORKER1_ADMIN WORKER2_ADMIN <<<"$(free_ports 8)"
[ -n "${WORKER2_ADMIN:-}" ] || die "could not find free ports"
NATS_URL=nats://127.0.0.1:$NATS_PORT
export NATS_URL REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
export HOOKLINE_PETSTORE_SECRETS=chaos-petstore-secret HOOKLINE_BUNJANG_SECRETS=chaos-bunjang-secret
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

alive() { kill -0 "${pid[$1]}" 2>/dev/null; }

# died NAME WHEN: a process ended that nobody here stopped; fails with its exit status.
died() {
  local rc=0
  { wait "${pid[$1]}"; } 2>/dev/null || rc=$?
  die "$1 (pid ${pid[$1]}) exited by itself $2, exit status $rc (see logs/$1.log)"
}

# wait_ready NAME [seconds]: until the process answers ready (servers: PING / healthz; services:
# /readyz 200). Fails if it exits or is not ready in time.
wait_ready() {
  local name=$1 limit=${2:-30} deadline
  deadline=$(($(now_ms) + limit * 1000))
  while :; do
    ready "$name" && return 0
    alive "$name" || died "$name" "while waiting for it to be ready"
    [ "$(now_ms)" -lt "$deadline" ] || die "$name not ready after ${limit}s"
    sleep 0.1
  done
}

# The fault log: every kill, start and recovery, with UTC time and offset into the load.
faults=()
t0=""
event() {
  local off="" line
  [ -z "$t0" ] || off=$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN {printf "t+%5.1fs", (a-b)/1000}')
  line="$(ts) ${off:+$off  }$*"
  echo "$line" >&2
  faults+=("$line")
}
since() { awk -v a="$(now_ms)" -v b="$1" 'BEGIN {printf "%.2fs", (a-b)/1000}'; }

# stop NAME SIGNAL: sends the signal and reaps the process; logs its exit status.
stop() {
  local name=$1 sig=$2 rc=0
  kill "-$sig" "${pid[$name]}"
  { wait "${pid[$name]}"; } 2>/dev/null || rc=$?
  event "$name: kill -$sig (pid ${pid[$name]}), exit status $rc"
  case $name:$sig in
    nats:* | redis:* | *:KILL) ;;
    *) [ "$rc" = 0 ] || die "$name did not shut down cleanly on SIG$sig (status $rc)" ;;
  esac
}

# restart NAME: starts it, waits until ready, logs how long it took.
restart() {
  local name=$1 s
  s=$(now_ms)
  start "$name"
  event "$name: started (pid ${pid[$name]})"
  wait_ready "$name" 30
  event "$name: ready after $(since "$s")"
}

# ready NAME: one readiness probe (servers: PING / healthz; services: /readyz 200).
ready() {
  case $1 in
    nats) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$NATS_MON/healthz" ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    *) curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$(admin_port "$1")/readyz" ;;
  esac
}

# recovered START NAME...: polls the services together until each answers ready again and logs
# when each did, counted from START (the fault).
recovered() {
  local s=$1 name deadline
  shift
  local -a waiting=("$@")
  deadline=$(($(now_ms) + 60000))
  while [ ${#waiting[@]} -gt 0 ]; do
    local -a still=()
    for name in "${waiting[@]}"; do
      if ready "$name"; then
        event "$name: ready again, $(since "$s") after the fault"
      else
        alive "$name" || died "$name" "while recovering from the fault"
        still+=("$name")
      fi
    done
    waiting=("${still[@]}")
    [ ${#waiting[@]} = 0 ] && break
    [ "$(now_ms)" -lt "$deadline" ] || die "not ready 60s after the fault: ${waiting[*]}"
    sleep 0.1
  done
}

log "building binaries"
go build -o "$bin/" ./services/ingress ./services/worker ./services/dispatcher ./cmd/hookline
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

log "starting nats-server :$NATS_PORT, redis-server :$REDIS_PORT, ingress :$HTTP_PORT, worker-1, worker-2, dispatcher (work dir $work)"
start nats
start redis
wait_ready nats
wait_ready redis
for name in ingress worker-1 worker-2 dispatcher; do start "$name"; done
for name in ingress worker-1 worker-2 dispatcher; do wait_ready "$name"; done
log "pipeline ready"

log "load: $SECS s at $RATE req/s, $CONNS connections, up to $RETRIES retries per request"
"$bin/hookline" bench -q -target "http://127.0.0.1:$HTTP_PORT" -rate "$RATE" -d "${SECS}s" -c "$CONNS" \
  -dup 0.1 -shuffle 0.3 -retries "$RETRIES" -nats "$NATS_URL" -oracle "$work/oracle.json" \
  -json "$work/bench.json" >"$work/bench.out" 2>&1 &
bench_pid=$!
t0=$(now_ms)

bench_ended() {
  local rc=0
  { wait "$bench_pid"; } 2>/dev/null || rc=$?
  bench_pid=""
  cat "$work/bench.out" >&2
  die "hookline bench ended before the faults were done (status $rc)"
}

at() { # wait until this share of the load has passed
  local target
  target=$((t0 + SECS * 1000 * $1 / 100))
  while [ "$(now_ms)" -lt "$target" ]; do
    kill -0 "$bench_pid" 2>/dev/null || bench_ended
    sleep 0.05
  done
}

at 15
stop worker-1 KILL
sleep "$DOWN"
restart worker-1

at 35
s=$(now_ms)
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

bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
event "load finished (bench exit status $bench_rc)"
cat "$work/bench.out" >&2
[ "$bench_rc" = 0 ] || die "hookline bench failed (status $bench_rc)"

for name in "${!pid[@]}"; do alive "$name" || died "$name" "during the run"; done

log "waiting for the queues to drain, then verifying"
s=$(now_ms)
verify_rc=0
"$bin/hookline" verify -oracle "$work/oracle.json" -url "http://127.0.0.1:$WORKER2_ADMIN" -nats "$NATS_URL" \
  -wait "$VERIFY_WAIT" >"$work/verify.out" 2>"$work/verify.err" || verify_rc=$?
cat "$work/verify.err" "$work/verify.out" >&2
event "verify finished after $(since "$s") (exit status $verify_rc)"
dlq=$("$bin/hookline" bench stream-count -nats "$NATS_URL" -stream DLQ)
pending=$(grep -c 'not drained' "$work/verify.err" || true)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${!pid[@]}"; do alive "$name" || died "$name" "during the drain and verify"; done

verdict=PASS
reasons=()
[ "$verify_rc" = 0 ] || reasons+=("verify failed (status $verify_rc)")
[ "$dlq" = 0 ] || reasons+=("$dlq messages in the DLQ")
[ "$pending" = 0 ] || reasons+=("the worker did not drain within $VERIFY_WAIT")
acked=$(awk '/^requests / {for (i = 2; i < NF; i++) if ($i == "acknowledged" && $(i+1) == "(2xx),") {print $(i-1); exit}}' "$work/bench.out")
acked=${acked:-0}
[ "$acked" -gt 0 ] || reasons+=("the bench got nothing acknowledged")
grep -q '^verified ' "$work/verify.out" || reasons+=("verify printed no result")
[ ${#reasons[@]} = 0 ] || verdict=FAIL

cmd="scripts/chaos.sh"
[ "$short" = 1 ] && cmd+=" --short"
[ ${#args[@]} = 0 ] || cmd+=" ${args[*]}"

# Render the section from the run's own outputs.
if [ "$have_python" = 1 ]; then
  section=$(python3 - "$work/bench.json" "$work/verify.out" "$verdict" "$cmd" "$SECS" "$RATE" "$CONNS" "$RETRIES" \
    "$DOWN" "$dlq" "$load_before" "$load_after" "$(printf '%s\n' "${faults[@]}")" "$(printf '%s; ' "${reasons[@]}")" "$(since "$run_start")" <<'PY'
import json, re, subprocess, sys, datetime, platform, os
(bench_path, verify_path, verdict, cmd, secs, rate, conns, retries, down, dlq,
 load_before, load_after, faults, reasons, total) = sys.argv[1:16]
b = json.load(open(bench_path))
v = open(verify_path).read()
m = re.search(r"verified (\d+) orders and items \((\d+) uncertain, not judged\): (\d+) lost, (\d+) duplicated, (\d+) wrong state", v)
checked, uncertain, lost, dup, wrong = m.groups() if m else ("?",) * 5
def ms(ns):
    return f"{ns / 1e6:.1f} ms" if ns < 1e9 else f"{ns / 1e9:.2f} s"
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
def ver(args, pick):
    try:
        return pick(subprocess.run(args, capture_output=True, text=True).stdout)
    except Exception:
        return "?"
nats = ver(["nats-server", "--version"], lambda s: s.split()[1])
redis = ver(["redis-server", "--version"], lambda s: s.split()[2].split("=")[1])
gov = ver(["go", "env", "GOVERSION"], lambda s: s.strip().removeprefix("go"))
codes = ", ".join(f"{k}: {n}" for k, n in sorted(b.get("byStatus", {}).items()))
lat = b["latency"]
e2e = b.get("endToEnd")
out = []
out.append(f"**{verdict}**" + (f" ({reasons.rstrip('; ')})" if verdict != "PASS" else "") +
           f": run on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu}), "
           f"load average {load_before} before and {load_after} after (1, 5, 15 min); Go {gov}, nats-server {nats}, "
           f"redis-server {redis}.")
out.append("")
out.append(f"Command: `{cmd}`: {secs} s of `hookline bench -rate {rate} -c {conns} -dup 0.1 -shuffle 0.3 "
           f"-retries {retries}` against one ingress, two workers and a dispatcher; killed servers stay down {down} s. "
           f"The whole run (build, start, load, drain, verify) took {total}.")
out.append("")
out.append("Faults, as logged (UTC time, offset into the load):")
out.append("")
out.append("```")
out.extend(faults.strip().splitlines())
out.append("```")
out.append("")
out.append("| requests | acknowledged | retries | never acknowledged | transport errors | answers by status | latency p50 | p99 | max |")
out.append("|---|---|---|---|---|---|---|---|---|")
out.append(f"| {b['requests']} | {b['acked']} | {b['retried']} | {b['failed']} | {b['errors']} | {codes} | "
           f"{ms(lat['p50Ns'])} | {ms(lat['p99Ns'])} | {ms(lat['maxNs'])} |")
out.append("")
if e2e:
    out.append(f"End to end (request sent to canonical event seen on `ORDERS`): p50 {ms(e2e['p50Ns'])}, "
               f"p99 {ms(e2e['p99Ns'])}, max {ms(e2e['maxNs'])}.")
    out.append("")
out.append("| orders and items checked | uncertain (not judged) | lost | duplicated | wrong state | in DLQ |")
out.append("|---|---|---|---|---|---|")
out.append(f"| {checked} | {uncertain} | {lost} | {dup} | {wrong} | {dlq} |")
print("\n".join(out))
PY
)
else
  section="(python3 not found: no results section; the run's outputs are above)"
fi

if [ "$write" = 1 ]; then
  python3 - "$section" <<'PY'
import re, sys
path = "BENCHMARKS.md"
begin, end = "<!-- chaos:begin -->", "<!-- chaos:end -->"
text = open(path).read()
if begin not in text or end not in text:
    sys.exit("chaos: BENCHMARKS.md has no chaos markers")
text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: begin + "\n" + sys.argv[1] + "\n" + end, text, flags=re.S)
open(path, "w").write(text)
PY
  log "results written to BENCHMARKS.md"
fi
printf '\n%s\n' "$section"
[ "$verdict" = PASS ] || die "${reasons[*]}"
log "PASS after $(since "$run_start")"
