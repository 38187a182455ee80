# Shared helpers for the benchmark scripts; source it.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

wait_port() {
  for _ in $(seq 1 150); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listening on port $1" >&2; return 1
}

wait_ready() { # base URL of an admin port
  for _ in $(seq 1 300); do curl -sf "$1/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "$1/readyz never answered 200" >&2; return 1
}

# NATS_SERVER is the nats-server binary the pipeline scripts start (default: the one on PATH).
NATS_SERVER=${NATS_SERVER:-nats-server}

machine_line() {
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Go $(go env GOVERSION | sed 's/^go//'), nats-server $("$NATS_SERVER" --version | awk '{print $2}'), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
}

# write_section NAME TEXT: replaces what stands between <!-- NAME:begin --> and <!-- NAME:end -->
# in BENCHMARKS.md.
write_section() {
  python3 - "$1" "$2" <<'PY'
import re, sys
name, body = sys.argv[1], sys.argv[2]
path = "BENCHMARKS.md"
begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
text = open(path).read()
if begin not in text:
    sys.exit("BENCHMARKS.md has no %s markers" % name)
text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda m: begin + "\n" + body + "\n" + end, text, flags=re.S)
open(path, "w").write(text)
PY
}

# The webhook mix of the end-to-end benchmarks (scripts/bench-e2e.sh, scripts/bench-cpu.sh):
# 5 % of events sent twice, 20 % of orders out of order, 20 000 orders per round.
BENCH_MIX=(-dup 0.05 -shuffle 0.2 -orders 20000)

# bench_conns RATE: connections for a fixed-rate run, max(32, RATE/25).
bench_conns() { echo $(( $1 / 25 > 32 ? $1 / 25 : 32 )); }

# kill_started: the EXIT trap of a script that started servers; kills only the PIDs in the
# array pids (and nothing by name), waits for them and removes the temp dir in work unless
# keep_work=1.
kill_started() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${keep_work:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

# start_pipeline: from the binaries built into $work (ingress, worker), starts on free loopback
# ports nats-server (JetStream, file store under $work/nats, HTTP monitoring), redis-server (no
# persistence), one ingress and one worker, appends their PIDs to pids and waits until both
# services are ready. Sets NATS_PORT NATS_MON REDIS_PORT HTTP IADM WADM, NATS_PID REDIS_PID
# INGRESS_PID WORKER_PID, and exports NATS_URL REDIS_URL and the bench signing secrets.
# Extra environment for both services can be passed as arguments (NAME=value …). With
# NATS_PROF=1, nats-server also serves Go's pprof on NATS_PROF_PORT (set here). PIPE_BIN (default
# $work) is where the ingress and worker binaries are, PIPE_DIR (default $work) where data and
# logs go. NATS_SERVER (default nats-server on PATH) is the server binary.
start_pipeline() {
  local bin=${PIPE_BIN:-$work} dir=${PIPE_DIR:-$work}
  mkdir -p "$dir"
  NATS_PORT=$(free_port); NATS_MON=$(free_port); REDIS_PORT=$(free_port)
  HTTP=$(free_port); IADM=$(free_port); WADM=$(free_port)
  local prof=()
  if [ "${NATS_PROF:-0}" = 1 ]; then NATS_PROF_PORT=$(free_port); prof=(--profile "$NATS_PROF_PORT"); fi
  "$NATS_SERVER" -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MON" -js -sd "$dir/nats" "${prof[@]}" >"$dir/nats.log" 2>&1 &
  NATS_PID=$!; pids+=("$NATS_PID")
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" &
  REDIS_PID=$!; pids+=("$REDIS_PID")
  wait_port "$NATS_PORT"; wait_port "$REDIS_PORT"
  export NATS_URL=nats://127.0.0.1:$NATS_PORT REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 HOOKLINE_LOG_LEVEL=warn
  export HOOKLINE_PETSTORE_SECRETS=bench-petstore-secret HOOKLINE_BUNJANG_SECRETS=bench-bunjang-secret
  env "$@" HOOKLINE_HTTP_ADDR="127.0.0.1:$HTTP" HOOKLINE_ADMIN_ADDR="127.0.0.1:$IADM" "$bin/ingress" >"$dir/ingress.log" 2>&1 &
  INGRESS_PID=$!; pids+=("$INGRESS_PID")
  # One after the other: nats-server 2.9.10 can crash (nil pointer in stream update) when two
  # clients create the same stream at the same moment.
  wait_ready "http://127.0.0.1:$IADM"
  env "$@" HOOKLINE_ADMIN_ADDR="127.0.0.1:$WADM" "$bin/worker" >"$dir/worker.log" 2>&1 &
  WORKER_PID=$!; pids+=("$WORKER_PID")
  wait_ready "http://127.0.0.1:$WADM"
}

# stop_pipeline: stops the four processes start_pipeline started (by PID; the services first, so
# they drain) and waits for them. They stay in pids: a second kill at exit is harmless.
stop_pipeline() {
  local p
  for p in "$INGRESS_PID" "$WORKER_PID"; do kill "$p" 2>/dev/null || true; done
  for p in "$INGRESS_PID" "$WORKER_PID"; do wait "$p" 2>/dev/null || true; done
  for p in "$NATS_PID" "$REDIS_PID"; do kill "$p" 2>/dev/null || true; done
  for p in "$NATS_PID" "$REDIS_PID"; do wait "$p" 2>/dev/null || true; done
}

# run_wrk URL CORPUS: one wrk run of $SECS seconds over $CONNS connections replaying CORPUS (its
# output in $work/wrk.out); prints "rps p50 p99 requests non2xx".
run_wrk() { # url corpus
  CORPUS=$2 wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s scripts/wrk-corpus.lua "$1" >"$work/wrk.out" 2>&1
  awk '
    /Requests\/sec:/ {rps=$2}
    /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
    /requests in/ {n=$1}
    /Non-2xx/ {bad=$5}
    END {printf "%s %s %s %s %s\n", rps, p50, p99, n, bad+0}' "$work/wrk.out"
}
