#!/usr/bin/env bash
# Runs a `go get` or `go mod tidy` in one of the repository's modules. The go.mod files require
# each other at v0.1.0 with no replace directives, and v0.1.0 is on no public proxy, so the go
# command cannot resolve them on its own: this publishes every repository module at v0.1.0 into
# a temporary file GOPROXY (scripts/modproxy), then runs the command outside the workspace with
# that proxy in front of the usual one. Lines for the repository's own modules are dropped from
# go.sum afterwards (they would go stale with every change; the workspace never needs them).
#
#   scripts/go-mod.sh services/worker get github.com/some/module@v1.2.3
#   scripts/go-mod.sh cmd/hookline mod tidy
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
[ $# -ge 2 ] || { echo "usage: $0 MODULE_DIR get|mod ARGS..." >&2; exit 2; }
dir="$1"; shift
[ -f "$root/$dir/go.mod" ] || { echo "$0: $dir is not a module of this repository" >&2; exit 2; }

work="$(mktemp -d)"
# A private module cache: v0.1.0 of our modules must come from this run's proxy, never from a copy
# cached by an earlier run (third-party modules still come from the machine's cache, as files).
cleanup() { GOMODCACHE="$work/modcache" go clean -modcache 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
mods=()
while IFS= read -r m; do mods+=("${m#"$root"/}"); done < <(cd "$root" && go list -m -f '{{.Dir}}')
(cd "$root" && go run ./scripts/modproxy -out "$work/proxy" -version v0.1.0 "${mods[@]}")

upstream="$(go env GOPROXY)"
cache="$(go env GOMODCACHE)/cache/download"
cd "$root/$dir"
GOWORK=off GOFLAGS=-mod=mod GONOSUMDB=github.com/hookline GONOSUMCHECK=github.com/hookline \
	GOPROXY="file://$work/proxy,file://$cache,$upstream" GOTOOLCHAIN=local GOMODCACHE="$work/modcache" go "$@"
if [ -f go.sum ]; then
	grep -v '^github.com/hookline/hookline' go.sum > "$work/go.sum" || true
	cat "$work/go.sum" > go.sum
fi
