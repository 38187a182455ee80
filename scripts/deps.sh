#!/usr/bin/env bash
# Makes sure nats-server (with JetStream) and redis-server are installed and listening on
# 127.0.0.1:4222 and 127.0.0.1:6379, installing the Debian packages when they are missing.
# Tests start their own servers on free ports; the binaries must be on PATH. node and npm (Debian's
# nodejs and npm) run the Node consumer example's test (cmd/hookline, examples/node-consumer). The
# worker console's browser test drives Debian's Chromium headless (/usr/bin/chromium).
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# pkg/testkit's StartRedisSentinel runs redis-sentinel (redis-server --sentinel without it).
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
[ -x /usr/bin/chromium ] || need+=(chromium chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # RUNLEVEL=1: the packages' own services (such as redis-sentinel on 26379) are not started.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! listening 4222; then
  echo "deps: starting nats-server on 127.0.0.1:4222"
  mkdir -p /tmp/hookline-nats
  nohup nats-server -a 127.0.0.1 -p 4222 -js -sd /tmp/hookline-nats >/tmp/hookline-nats.log 2>&1 &
fi
if ! listening 6379; then
  echo "deps: starting redis-server on 127.0.0.1:6379"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no --dir /tmp \
    --logfile /tmp/hookline-redis.log
fi
for port in 4222 6379; do
  for _ in $(seq 1 100); do listening "$port" && break; sleep 0.1; done
  listening "$port" || { echo "deps: nothing listening on 127.0.0.1:$port" >&2; exit 1; }
done
echo "deps: nats-server $(nats-server --version 2>&1 | awk '{print $2}') and redis-server ready; node $(node --version), npm $(npm --version)"
