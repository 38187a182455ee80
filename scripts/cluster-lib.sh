# Helpers for scripts that start clustered backends from their binaries on loopback; source it
# after scripts/lib.sh (free_port, wait_port), with $work (a temp dir) and the array pids set.

# start_nats_cluster [N]: starts N (default 3) nats-server processes forming one cluster with
# JetStream (file store under $work/nats-cluster/nI), each with a config file in that directory,
# and waits until the JetStream meta group has a leader. Appends the PIDs to pids and sets
# NATS_CLUSTER_URL (the client URLs, comma-separated, as NATS_URL takes them),
# NATS_CLUSTER_PIDS, NATS_CLUSTER_CONFS, NATS_CLUSTER_PORTS and NATS_CLUSTER_MONS (arrays, index
# i for server n$((i+1))), so a caller can kill one and start it again with
# `nats-server -c "${NATS_CLUSTER_CONFS[i]}"`.
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
    nats-server -c "$dir/n$((i + 1)).conf" >"$dir/n$((i + 1)).log" 2>&1 &
    NATS_CLUSTER_PIDS+=("$!"); pids+=("$!")
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
