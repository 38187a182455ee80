# Shared parts of the chaos runs (scripts/chaos.sh, scripts/chaos-cluster.sh); source it after
# `set -euo pipefail` and `cd` to the repository (it sources scripts/lib.sh). The script defines:
#   start NAME    starts one process in the background and records its PID in pid[NAME]
#   ready NAME    one readiness probe of NAME (exit status 0: ready)
# and then calls, in this order: chaos_args "$@", load_shape SECS RATE, need_tools, chaos_init
# PREFIX (temp dir, traps), build_binaries, the starts, start_load ARGS…, the faults (at, stop,
# restart, recovered, event), finish_load, verify_run URL NATS_URL, judge, render_section
# DESCRIPTION, publish_section MARKER.
#
# Every kill, start and recovery is logged with its UTC time and its offset into the load; the
# EXIT trap kills only the PIDs in pid (a process stopped and reaped here leaves pid), prints the
# last lines of every *.log under the temp dir when the run fails, and keeps the dir then.

source scripts/lib.sh

usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

ts() { date -u +%T.%3N; }
now_ms() { date +%s%3N; }
log() { printf '%s %s\n' "$(ts)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
since() { awk -v a="$(now_ms)" -v b="$1" 'BEGIN {printf "%.2fs", (a-b)/1000}'; }

# chaos_args "$@": --short, --write, --no-write, -h and at most two numbers; sets short, write
# (default: 1 unless --short) and args.
chaos_args() {
  short=0 write=""
  args=()
  local a
  for a in "$@"; do
    case $a in
      --short) short=1 ;;
      --write) write=1 ;;
      --no-write) write=0 ;;
      -h | --help) usage; exit 0 ;;
      -*) echo "$(basename "$0" .sh): unknown option $a" >&2; usage >&2; exit 2 ;;
      *) args+=("$a") ;;
    esac
  done
  [ -n "$write" ] || { if [ "$short" = 1 ]; then write=0; else write=1; fi; }
  [ ${#args[@]} -le 2 ] || { echo "chaos: at most two arguments, seconds and rate" >&2; exit 2; }
}

# load_shape DEF_SECS DEF_RATE: SECS and RATE from args, else these defaults.
load_shape() {
  SECS=${args[0]:-$1}
  RATE=${args[1]:-$2}
  case "$SECS$RATE" in *[!0-9]*) echo "chaos: seconds and rate are whole numbers" >&2; exit 2 ;; esac
  [ "$SECS" -ge 10 ] || { echo "chaos: run at least 10 seconds" >&2; exit 2; }
  [ "$RATE" -ge 1 ] || { echo "chaos: the rate is at least 1 request/s" >&2; exit 2; }
}

# need_tools TOOL…: fails unless each is on PATH. Sets have_python (python3 only renders the
# results section; without it a run still passes or fails the same).
need_tools() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "chaos: $tool is not on PATH (scripts/deps.sh installs the servers)" >&2; exit 1; }
  done
  have_python=0
  command -v python3 >/dev/null && have_python=1
  [ "$have_python" = 1 ] || [ "$write" = 0 ] || { echo "chaos: writing BENCHMARKS.md needs python3 (or use --no-write)" >&2; exit 1; }
}

# chaos_init PREFIX: the temp dir work (bin under it holds the binaries, logs the services'
# logs), the pid registry and the traps.
chaos_init() {
  run_start=$(now_ms)
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  bin=$work/exe
  mkdir -p "$bin" "$work/logs"
  declare -gA pid=()
  bench_pid=""
  faults=()
  t0=""
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

cleanup() {
  local rc=$? name f alive
  set +e
  [ -z "$bench_pid" ] || kill "$bench_pid" 2>/dev/null
  for name in "${!pid[@]}"; do kill -TERM "${pid[$name]}" 2>/dev/null; done
  for _ in $(seq 1 50); do
    alive=0
    for name in "${!pid[@]}"; do kill -0 "${pid[$name]}" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for name in "${!pid[@]}"; do kill -KILL "${pid[$name]}" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$rc" != 0 ]; then
    while IFS= read -r f; do
      [ -s "$f" ] || continue
      printf '\n---- last lines of %s ----\n' "${f#"$work"/}" >&2
      tail -n 25 "$f" >&2
    done < <(find "$work" -name '*.log' | sort)
  fi
  if [ "${CHAOS_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then
    echo "chaos: logs and data kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}

# free_ports COUNT: free loopback ports, all different: the kernel's choice (bound to port 0,
# all held at once, in one python3 call) when python3 is there, else random ports below the
# ephemeral range that nothing answers on.
free_ports() {
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

# build_binaries: the services and the CLI from this checkout into $bin; records the load
# average before the run.
build_binaries() {
  log "building binaries"
  go build -o "$bin/" ./services/ingress ./services/worker ./services/dispatcher ./cmd/hookline
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
}

alive() { [ -n "${pid[$1]:-}" ] && kill -0 "${pid[$1]}" 2>/dev/null; }

# died NAME WHEN: a process ended that nobody here stopped; fails with its exit status.
died() {
  local rc=0
  [ -z "${pid[$1]:-}" ] || { wait "${pid[$1]}"; } 2>/dev/null || rc=$?
  die "$1 (pid ${pid[$1]:-?}) exited by itself $2, exit status $rc (see its log)"
}

# await_ready NAME [seconds]: until ready NAME succeeds. Fails if it exits or is not ready in
# time (default 30 s).
await_ready() {
  local name=$1 limit=${2:-30} deadline
  deadline=$(($(now_ms) + limit * 1000))
  while :; do
    ready "$name" && return 0
    alive "$name" || died "$name" "while waiting for it to be ready"
    [ "$(now_ms)" -lt "$deadline" ] || die "$name not ready after ${limit}s"
    sleep 0.1
  done
}

# event TEXT: one line of the fault log (stderr and the results section).
event() {
  local off="" line
  [ -z "$t0" ] || off=$(awk -v a="$(now_ms)" -v b="$t0" 'BEGIN {printf "t+%5.1fs", (a-b)/1000}')
  line="$(ts) ${off:+$off  }$*"
  echo "$line" >&2
  faults+=("$line")
}

# stop NAME SIGNAL: sends the signal, reaps the process, logs its exit status and forgets its
# PID. A service (not a server, names in servers) that exits non-zero on TERM or INT fails the run.
stop() {
  local name=$1 sig=$2 rc=0 p=${pid[$1]}
  kill "-$sig" "$p"
  { wait "$p"; } 2>/dev/null || rc=$?
  unset 'pid[$name]'
  event "$name: kill -$sig (pid $p), exit status $rc"
  case " ${servers:-} " in *" $name "*) return 0 ;; esac
  [ "$sig" = KILL ] || [ "$rc" = 0 ] || die "$name did not shut down cleanly on SIG$sig (status $rc)"
}

# restart NAME [seconds]: starts it, waits until ready (default 30 s), logs how long it took.
restart() {
  local name=$1 s
  s=$(now_ms)
  start "$name"
  event "$name: started (pid ${pid[$name]})"
  await_ready "$name" "${2:-30}"
  event "$name: ready after $(since "$s")"
}

# recovered START NAME...: polls the services together until each answers ready again and logs
# when each did, counted from START (the fault); fails after CHAOS_RECOVER_WAIT seconds (60).
recovered() {
  local s=$1 name deadline
  shift
  local -a waiting=("$@")
  deadline=$(($(now_ms) + ${CHAOS_RECOVER_WAIT:-60} * 1000))
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
    [ "$(now_ms)" -lt "$deadline" ] || die "not ready ${CHAOS_RECOVER_WAIT:-60}s after the fault: ${waiting[*]}"
    sleep 0.1
  done
}

# start_load ARGS…: `hookline bench -q -rate RATE -d SECS ARGS…` in the background (output in
# bench.out, result in bench.json); the load's start is t0.
start_load() {
  "$bin/hookline" bench -q -rate "$RATE" -d "${SECS}s" -json "$work/bench.json" "$@" >"$work/bench.out" 2>&1 &
  bench_pid=$!
  t0=$(now_ms)
}

bench_ended() {
  local rc=0
  { wait "$bench_pid"; } 2>/dev/null || rc=$?
  bench_pid=""
  cat "$work/bench.out" >&2
  die "hookline bench ended before the faults were done (status $rc)"
}

# at PERCENT: waits until this share of the load has passed (at once if it has); fails if the
# bench ended already.
at() { until_ms $((t0 + SECS * 1000 * $1 / 100)); }

# until_ms MS: waits until the clock (now_ms) reads MS; fails if the bench ends meanwhile.
until_ms() {
  while [ "$(now_ms)" -lt "$1" ]; do
    kill -0 "$bench_pid" 2>/dev/null || bench_ended
    sleep 0.05
  done
  kill -0 "$bench_pid" 2>/dev/null || bench_ended
}

# finish_load: waits for the bench, fails on its failure or on a process that died by itself.
finish_load() {
  local name
  bench_rc=0
  wait "$bench_pid" || bench_rc=$?
  bench_pid=""
  event "load finished (bench exit status $bench_rc)"
  cat "$work/bench.out" >&2
  [ "$bench_rc" = 0 ] || die "hookline bench failed (status $bench_rc)"
  for name in "${!pid[@]}"; do alive "$name" || died "$name" "during the run"; done
}

# verify_run WORKER_URL NATS_URL: `hookline verify` (it waits up to VERIFY_WAIT for the worker
# consumer to drain) and the DLQ's size; sets verify_rc, dlq, pending and load_after.
verify_run() {
  local s name
  log "waiting for the queues to drain, then verifying"
  s=$(now_ms)
  verify_rc=0
  "$bin/hookline" verify -oracle "$work/oracle.json" -url "$1" -nats "$2" \
    -wait "$VERIFY_WAIT" >"$work/verify.out" 2>"$work/verify.err" || verify_rc=$?
  cat "$work/verify.err" "$work/verify.out" >&2
  event "verify finished after $(since "$s") (exit status $verify_rc)"
  dlq=$("$bin/hookline" bench stream-count -nats "$2" -stream DLQ)
  pending=$(grep -c 'not drained' "$work/verify.err" || true)
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  for name in "${!pid[@]}"; do alive "$name" || died "$name" "during the drain and verify"; done
}

# judge [REASON…]: the verdict (PASS or FAIL) and its reasons: verify's, the DLQ's, the drain's,
# nothing acknowledged, and any the caller adds.
judge() {
  verdict=PASS
  reasons=("$@")
  [ "$verify_rc" = 0 ] || reasons+=("verify failed (status $verify_rc)")
  [ "$dlq" = 0 ] || reasons+=("$dlq messages in the DLQ")
  [ "$pending" = 0 ] || reasons+=("the worker did not drain within $VERIFY_WAIT")
  acked=$(awk '/^requests / {for (i = 2; i < NF; i++) if ($i == "acknowledged" && $(i+1) == "(2xx),") {print $(i-1); exit}}' "$work/bench.out")
  acked=${acked:-0}
  [ "$acked" -gt 0 ] || reasons+=("the bench got nothing acknowledged")
  grep -q '^verified ' "$work/verify.out" || reasons+=("verify printed no result")
  [ ${#reasons[@]} = 0 ] || verdict=FAIL
}

# render_section DESCRIPTION: the results section from the run's own outputs into section.
# DESCRIPTION follows "Command: `…`: " and says what ran.
render_section() {
  local cmd
  cmd="scripts/$(basename "$0")"
  [ "$short" = 1 ] && cmd+=" --short"
  [ ${#args[@]} = 0 ] || cmd+=" ${args[*]}"
  if [ "$have_python" != 1 ]; then
    section="(python3 not found: no results section; the run's outputs are above)"
    return
  fi
  section=$(python3 - "$work/bench.json" "$work/verify.out" "$verdict" "$cmd" "$1" "$dlq" "$load_before" "$load_after" \
    "$(printf '%s\n' "${faults[@]}")" "$(printf '%s; ' "${reasons[@]}")" "$(since "$run_start")" <<'PY'
import json, re, subprocess, sys, datetime, os
(bench_path, verify_path, verdict, cmd, desc, dlq, load_before, load_after, faults, reasons, total) = sys.argv[1:12]
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
out.append(f"Command: `{cmd}`: {desc} The whole run (build, start, load, drain, verify) took {total}.")
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
}

# publish_section MARKER: writes section into BENCHMARKS.md between the MARKER markers when write
# is 1 (write_section of scripts/lib.sh), prints it, and ends the run: exit 1 with the reasons
# unless the verdict is PASS.
publish_section() {
  if [ "$write" = 1 ]; then
    write_section "$1" "$section"
    log "results written to BENCHMARKS.md"
  fi
  printf '\n%s\n' "$section"
  [ "$verdict" = PASS ] || die "${reasons[*]}"
  log "PASS after $(since "$run_start")"
}
