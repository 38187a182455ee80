#!/usr/bin/env bash
# Proves the consumer SDK can be fetched like another team would fetch it (issue 11): publish
# the SDK's modules at one version into a file-based GOPROXY, then, in a new module outside the
# workspace (GOWORK=off, no replace, no checksum database for our modules), `go get` the SDK at
# that version and build the SDK's example consumer against it. Third-party modules come from
# the local module cache or the configured upstream proxy.
#
#   scripts/check-modules.sh [version]     (default v0.1.0)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="${1:-v0.1.0}"
sdk=github.com/hookline/hookline/pkg/consumer

work="$(mktemp -d)"
cleanup() {
	# The private module cache is read-only on disk; go clean removes it.
	GOMODCACHE="$work/modcache" go clean -modcache 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

echo "==> file proxy with the SDK's modules at $version"
(cd "$root" && go run ./scripts/modproxy -out "$work/proxy" -version "$version" pkg/consume pkg/consumer proto)

upstream="$(go env GOPROXY)"
cache="$(go env GOMODCACHE)/cache/download"
export GOWORK=off GOFLAGS=-mod=mod GOSUMDB=off GONOSUMDB=github.com/hookline GOTOOLCHAIN=local
# Our modules only from the file proxy; third-party ones from the local cache, then upstream. A
# private module cache keeps a stale copy of our $version out of the machine's cache.
export GOPROXY="file://$work/proxy,file://$cache,$upstream"
export GOMODCACHE="$work/modcache"

echo "==> a team's module outside the workspace fetches $sdk@$version"
mkdir "$work/team"
cd "$work/team"
cp "$root/pkg/consumer/example/main.go" .
go mod init example.com/team/orders-consumer >/dev/null 2>&1
go get "$sdk@$version"
go build -o /dev/null .
echo "built the example consumer against $sdk@$version"

echo "==> the SDK's module graph stays small"
go mod graph | awk -v sdk="$sdk@$version" '$1 == sdk { print "  " $2 }'
for heavy in github.com/nats-io/nats-server github.com/prometheus/ gopkg.in/yaml go.uber.org/zap github.com/redis/; do
	if go list -m all | grep -q "^$heavy"; then
		echo "check-modules: $heavy is in the build list of a module that only uses the SDK" >&2
		exit 1
	fi
done
echo "ok: $sdk@$version builds outside the workspace"
