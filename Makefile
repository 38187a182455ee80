# Hookline: every target works from the repository root.
SHELL := /bin/bash
GOBIN ?= $(shell go env GOPATH)/bin
export PATH := $(GOBIN):$(PATH)

BUF_VERSION           := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
GOLANGCI_VERSION      := v2.15.0

# Every module in go.work, as package patterns.
PKGS := $(shell go list -m -f '{{.Dir}}/...' 2>/dev/null)
# 11 fuzz targets × 33s: the documented `make fuzz` run takes about 6 minutes. CI runs FUZZTIME=5s.
FUZZTIME ?= 33s
FUZZ_PKGS ?= ./pkg/providers/internal/jsonscan/ ./pkg/providers/petstore/ ./pkg/providers/bunjang/ ./pkg/providers/standardwebhooks/ ./services/ingress/internal/httpapi/ ./services/worker/internal/process/

.PHONY: all run test test-nats29 deps generate check-generated lint bench fuzz tools build

all: build test

## run: build bin/hookline and start the whole pipeline in one process (see README); makes sure Redis runs first
run:
	@bash scripts/deps.sh
	go build -o bin/hookline ./cmd/hookline
	bin/hookline dev

## build: compile every service and the CLI into ./bin
build:
	@mkdir -p bin
	go build -o bin/ ./services/ingress ./services/worker ./services/dispatcher ./cmd/hookline

## deps: install and start nats-server and redis-server when they are not running
deps:
	@bash scripts/deps.sh

## test: the whole test suite against real nats-server and redis-server, with the race detector
test: deps
	go test -race -count=1 -timeout 12m $(PKGS)

## test-nats29: the integration tests again, against the nats-server binary on PATH (Debian: 2.9)
test-nats29: deps
	HOOKLINE_TEST_NATS=binary go test -count=1 -timeout 8m $(filter %/services/ingress/... %/services/worker/... %/services/dispatcher/...,$(PKGS)) ./pkg/consume/integration/ ./pkg/streams/ ./pkg/testkit/ ./pkg/natsconn/ ./pkg/consumer/integration/ ./pkg/consumer/example/

## tools: install buf and protoc-gen-go at pinned versions
tools:
	@command -v buf >/dev/null && buf --version | grep -qx '$(patsubst v%,%,$(BUF_VERSION))' || go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@command -v protoc-gen-go >/dev/null && protoc-gen-go --version | grep -q '$(PROTOC_GEN_GO_VERSION)' || go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

## generate: regenerate Go code from proto/
generate: tools
	cd proto && buf lint && rm -rf gen && buf generate

## check-generated: fail when the committed generated code is stale
check-generated: generate
	@git diff --exit-code --stat -- proto/gen || { echo "proto/gen is stale: run 'make generate' and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- proto/gen)" || { echo "proto/gen has uncommitted files: run 'make generate' and commit" >&2; exit 1; }

## lint: gofmt, go vet and golangci-lint
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed" >&2; exit 1; }
	go vet $(PKGS)
	@command -v golangci-lint >/dev/null || go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	golangci-lint run $(PKGS)

## bench: Go benchmarks of the hot paths
bench:
	go test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	@set -e; for pkg in $(FUZZ_PKGS); do \
	  for f in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done
