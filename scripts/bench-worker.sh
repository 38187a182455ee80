#!/usr/bin/env bash
# One worker's events/s (consume, decode, apply in Redis, publish to ORDERS, ack) and the apply
# path alone, from the Go benchmarks; writes the table into BENCHMARKS.md (worker markers).
#
#   scripts/bench-worker.sh [runs] [events per run]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
RUNS=${1:-5}
N=${2:-100000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

HOOKLINE_TEST_NATS=binary go test -run '^$' -bench BenchmarkWorkerThroughput -benchtime "${N}x" -count "$RUNS" ./services/worker/app | tee -a "$out" >&2
go test -run '^$' -bench BenchmarkApply -benchmem -count 3 ./services/worker/internal/orders | tee -a "$out" >&2
rows=$(awk '
  /^BenchmarkWorkerThroughput/ { for (i=1;i<=NF;i++) if ($(i+1)=="events/s") { n++; printf "| %d | %s |\n", n, $i } }' "$out")
apply=$(awk '/^BenchmarkApply/ { printf "| `%s` | %s | %s | %s |\n", $1, $3, $5, $7 }' "$out")
table=$(cat <<EOT
Measured $(date -u +%Y-%m-%d) on $(machine_line).
Command: \`scripts/bench-worker.sh $RUNS $N\`, which runs
\`HOOKLINE_TEST_NATS=binary go test -run '^\$' -bench BenchmarkWorkerThroughput -benchtime ${N}x -count $RUNS ./services/worker/app\`:
WEBHOOKS is pre-filled with $N Petstore events (each a new transition, the heaviest path), then one
worker with default settings runs until every message is acked; nats-server (the binary on PATH)
and redis-server run in their own processes.

| run | events/s through one worker |
|---|---|
$rows

The apply path alone (\`go test -run '^\$' -bench BenchmarkApply -benchmem -count 3 ./services/worker/internal/orders\`):

| benchmark | ns/op | B/op | allocs/op |
|---|---|---|---|
$apply
EOT
)
write_section worker "$table"
echo "$table"
