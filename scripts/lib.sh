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

machine_line() {
  echo "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), Go $(go env GOVERSION | sed 's/^go//'), nats-server $(nats-server --version | awk '{print $2}'), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2); load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
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
