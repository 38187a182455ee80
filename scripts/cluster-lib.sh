# Helpers for scripts that start clustered backends from their binaries on loopback; source it
# after scripts/lib.sh (free_port, wait_port), with $work (a temp dir) and the array pids set.

# start_nats_cluster [N]: starts N (default 3) nats-server processes forming one cluster with
# JetStream (file store under $work/nats-cluster/nI), each with a config file and a log (nI.conf,
# nI.log) in that directory, and waits until the JetStream meta group has a leader. Appends the
# PIDs to pids and sets NATS_CLUSTER_URL (the client URLs, comma-separated, as NATS_URL takes
# them), NATS_CLUSTER_PIDS, NATS_CLUSTER_CONFS, NATS_CLUSTER_PORTS and NATS_CLUSTER_MONS (arrays,
# index i for server n$((i+1))), so a caller can kill one and start it again with
# `start_nats_node i`.
start_nats_cluster() {
  local n=${1:-3} i dir routes="" urls=""
  local cports=()
  NATS_CLUSTER_PIDS=(); NATS_CLUSTER_CONFS=(); NATS_CLUSTER_PORTS=(); NATS_CLUSTER_MONS=()
  dir="$work/nats-cluster"; mkdir -p "$dir"
  for ((i = 0; i < n; i++)); do
    NATS_CLUSTER_PORTS+=("$(free_port)"); NATS_CLUSTER_MONS+=("$(free_port)"); cports+=("$(free_port)")
    routes+="${routes:+, }nats-route://127.0.0.1:${cports[i]}"
    urls+="${urls:+,}nats://127.0.0.1:${NATS_CLUSTER_PORTS[i]}"
  done
  for ((i = 0; i < n; i++)); do
    cat >"$dir/n$((i + 1)).conf" <<CONF
server_name: n$((i + 1))
listen: 127.0.0.1:${NATS_CLUSTER_PORTS[i]}
http: 127.0.0.1:${NATS_CLUSTER_MONS[i]}
jetstream { store_dir: "$dir/n$((i + 1))" }
cluster {
  name: hookline
  listen: 127.0.0.1:${cports[i]}
  routes: [ $routes ]
}
CONF
    NATS_CLUSTER_CONFS+=("$dir/n$((i + 1)).conf")
    start_nats_node "$i"
  done
  for ((i = 0; i < n; i++)); do wait_port "${NATS_CLUSTER_PORTS[i]}"; done
  wait_nats_meta_leader
  NATS_CLUSTER_URL=$urls
}

# wait_nats_meta_leader: waits (up to 30 s) until a server of the cluster started by
# start_nats_cluster reports a JetStream meta leader with every peer current.
wait_nats_meta_leader() {
  local _ mon
  for _ in $(seq 1 300); do
    for mon in "${NATS_CLUSTER_MONS[@]}"; do
      if curl -sf "http://127.0.0.1:$mon/jsz" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin).get("meta_cluster") or {}
peers = m.get("replicas") or []
sys.exit(0 if m.get("leader") and len(peers) + 1 >= m.get("cluster_size", 0) and all(p.get("current") for p in peers) else 1)'; then
        return 0
      fi
    done
    sleep 0.1
  done
  echo "the NATS cluster elected no JetStream meta leader within 30 s" >&2; return 1
}

# start_nats_node I: starts server n$((I+1)) of start_nats_cluster from its config file (same
# ports and store dir), its output appended to its log; sets NATS_CLUSTER_PIDS[I] and appends the
# PID to pids. It does not wait.
start_nats_node() {
  local conf=${NATS_CLUSTER_CONFS[$1]}
  nats-server -c "$conf" >>"${conf%.conf}.log" 2>&1 &
  NATS_CLUSTER_PIDS[$1]=$!; pids+=("$!")
}

# nats_stream_info STREAM: one line "LEADER CURRENT" for STREAM from the monitoring ports
# (/jsz?streams=true): LEADER is the name (n1, n2, …) of the server that reports itself the
# stream's leader ("-" during an election or when none answers), CURRENT is "yes" when that
# leader sees every other peer as a current, online replica (only the leader's view of its
# replicas is reliable). Fails when no server knows the stream.
nats_stream_info() {
  local i known=1 out
  for i in "${!NATS_CLUSTER_MONS[@]}"; do
    out=$(curl -sf --max-time 2 "http://127.0.0.1:${NATS_CLUSTER_MONS[i]}/jsz?streams=true" 2>/dev/null | python3 -c '
import json, sys
for acc in json.load(sys.stdin).get("account_details") or []:
    for st in acc.get("stream_detail") or []:
        if st.get("name") != sys.argv[1]:
            continue
        c = st.get("cluster") or {}
        if c.get("leader") != sys.argv[2]:
            print("-")
            sys.exit(0)
        reps = [r for r in c.get("replicas") or [] if r.get("name") != sys.argv[2]]
        ok = len(reps) + 1 >= int(sys.argv[3]) and all(r.get("current") and not r.get("offline") for r in reps)
        print(sys.argv[2], "yes" if ok else "no")
        sys.exit(0)
sys.exit(1)' "$1" "n$((i + 1))" "${#NATS_CLUSTER_MONS[@]}") || continue
    known=0
    [ "$out" = - ] || { echo "$out"; return 0; }
  done
  [ "$known" = 0 ] && echo "- no"
  return "$known"
}

# wait_nats_stream_current STREAM [SECONDS]: waits (default 60 s) until STREAM has a leader and
# every replica is current; prints the leader's name.
wait_nats_stream_current() {
  local leader current deadline=$((SECONDS + ${2:-60}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if read -r leader current < <(nats_stream_info "$1") && [ "$current" = yes ]; then
      echo "$leader"; return 0
    fi
    sleep 0.2
  done
  echo "stream $1 has no leader with current replicas after ${2:-60} s" >&2; return 1
}

# start_redis_cluster: starts six cluster-enabled redis-servers (AOF with appendfsync everysec,
# cluster-node-timeout REDIS_NODE_TIMEOUT_MS, default 1000), each with its folder and log under
# $work/redis-cluster/rI, joins them with `redis-cli --cluster create … --cluster-replicas 1`
# (three primaries, three replicas) and waits until the cluster is healthy. The cluster bus gets
# a free port of its own (--cluster-port): the default, port + 10000, may be taken or past 65535. Appends the PIDs to
# pids and sets REDIS_CLUSTER_URL (host:port, comma-separated, as REDIS_CLUSTER_ADDRS takes them),
# REDIS_CLUSTER_PORTS and REDIS_CLUSTER_PIDS (arrays, index i for node r$((i+1))); a node killed
# and started again with `start_redis_node i` rejoins with its nodes.conf.
start_redis_cluster() {
  local i addrs=()
  REDIS_CLUSTER_PORTS=(); REDIS_CLUSTER_BUS_PORTS=(); REDIS_CLUSTER_PIDS=()
  for i in 0 1 2 3 4 5; do
    REDIS_CLUSTER_PORTS+=("$(free_port)"); REDIS_CLUSTER_BUS_PORTS+=("$(free_port)")
    mkdir -p "$work/redis-cluster/r$((i + 1))"
    start_redis_node "$i"
    addrs+=("127.0.0.1:${REDIS_CLUSTER_PORTS[i]}")
  done
  for i in 0 1 2 3 4 5; do wait_port "${REDIS_CLUSTER_PORTS[i]}"; done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$work/redis-cluster/create.log" 2>&1 ||
    { cat "$work/redis-cluster/create.log" >&2; echo "redis-cli --cluster create failed" >&2; return 1; }
  REDIS_CLUSTER_URL=$(IFS=,; echo "${addrs[*]}")
  wait_redis_cluster_healthy
}

# start_redis_node I: starts node r$((I+1)) of start_redis_cluster (same port and folder); sets
# REDIS_CLUSTER_PIDS[I] and appends the PID to pids. It does not wait.
start_redis_node() {
  local dir=$work/redis-cluster/r$(($1 + 1))
  redis-server --bind 127.0.0.1 --port "${REDIS_CLUSTER_PORTS[$1]}" --dir "$dir" --logfile "$dir/redis.log" \
    --cluster-enabled yes --cluster-port "${REDIS_CLUSTER_BUS_PORTS[$1]}" --cluster-config-file nodes.conf --cluster-node-timeout "${REDIS_NODE_TIMEOUT_MS:-1000}" \
    --appendonly yes --appendfsync everysec --save "" --daemonize no &
  REDIS_CLUSTER_PIDS[$1]=$!; pids+=("$!")
}

# redis_cluster_state: one line "OK PRIMARIES" from the running nodes (REDIS_CLUSTER_PIDS[i] not
# empty): OK is "yes" when every running node reports cluster_state:ok with all 16384 slots, each
# primary serving slots has a replica whose link is up, and every running replica's link to its
# primary is up; PRIMARIES lists the indexes of the nodes serving slots, comma-separated.
redis_cluster_state() {
  local i ports=()
  for i in "${!REDIS_CLUSTER_PORTS[@]}"; do [ -z "${REDIS_CLUSTER_PIDS[i]:-}" ] || ports+=("$i:${REDIS_CLUSTER_PORTS[i]}"); done
  python3 - "${ports[@]}" <<'PY'
import subprocess, sys
def cli(port, *args):
    try:
        return subprocess.run(["redis-cli", "-p", port, *args], capture_output=True, text=True, timeout=2).stdout
    except subprocess.TimeoutExpired:
        return ""
ok, primaries, masters, replicated = True, [], {}, set()
index = {}
for arg in sys.argv[1:]:
    i, port = arg.split(":")
    index["127.0.0.1:" + port] = i
for arg in sys.argv[1:]:
    i, port = arg.split(":")
    info = cli(port, "cluster", "info")
    if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
        ok = False
    repl = cli(port, "info", "replication")
    if "role:slave" in repl and "master_link_status:up" not in repl:
        ok = False
nodes = cli(sys.argv[1].split(":")[1], "cluster", "nodes") if sys.argv[1:] else ""
for line in nodes.splitlines():
    f = line.split()
    if len(f) < 8:
        continue
    addr = f[1].split("@")[0]
    flags = f[2].split(",")
    if "fail" in flags or "fail?" in flags:
        continue
    if "master" in flags and len(f) > 8:
        masters[f[0]] = addr
    if "slave" in flags and f[7] == "connected" and addr in index:
        replicated.add(f[3])
for nid, addr in masters.items():
    if addr not in index or nid not in replicated:
        ok = False
    if addr in index:
        primaries.append(index[addr])
if len(masters) != 3:
    ok = False
print("yes" if ok else "no", ",".join(sorted(primaries)) or "-")
PY
}

# wait_redis_cluster_healthy [SECONDS]: waits (default 60 s) until redis_cluster_state says yes.
wait_redis_cluster_healthy() {
  local ok prim deadline=$((SECONDS + ${1:-60}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    read -r ok prim < <(redis_cluster_state)
    [ "$ok" = yes ] && return 0
    sleep 0.2
  done
  echo "the Redis Cluster is not healthy after ${1:-60} s" >&2; return 1
}

# wait_redis_failover I [SECONDS]: after node I was killed (and REDIS_CLUSTER_PIDS[I] emptied),
# waits (default 30 s) until every running node reports cluster_state:ok and node I serves no
# slots: its replica took over.
wait_redis_failover() {
  local i port ok deadline=$((SECONDS + ${2:-30})) addr="127.0.0.1:${REDIS_CLUSTER_PORTS[$1]}"
  while [ "$SECONDS" -lt "$deadline" ]; do
    ok=1
    for i in "${!REDIS_CLUSTER_PORTS[@]}"; do
      [ -n "${REDIS_CLUSTER_PIDS[i]:-}" ] || continue
      port=${REDIS_CLUSTER_PORTS[i]}
      redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
      # A primary that still serves slots at the killed node's address: not failed over yet.
      redis-cli -p "$port" cluster nodes 2>/dev/null | awk -v a="$addr" '{split($2, h, "@")} h[1] == a && $3 ~ /master/ && NF > 8 {bad = 1} END {exit bad}' ||
        { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "no replica took over from redis node r$(($1 + 1)) within ${2:-30} s" >&2; return 1
}
