# mqops — make demo, make test
SHELL := /bin/bash
GO ?= go
BIN := bin/mqops
PKGS := ./...
# integration tests fail (instead of skipping) when the services are missing
export MQOPS_REQUIRE_INTEGRATION ?= 1

.PHONY: all build demo test unit test-env-up test-env-down bench lint fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mqops

## demo: the console on an embedded Kafka with live synthetic traffic
demo: build
	./$(BIN) demo

## test: everything — lint, unit, integration against real Kafka/RabbitMQ/PostgreSQL/MariaDB, race detector, tmux smoke
test: lint build
	@command -v tmux >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null)
	@set -euo pipefail; \
	trap 'scripts/testenv down >&2 || true' EXIT; \
	eval "$$(scripts/testenv up)"; \
	MQOPS_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 30m $(PKGS); \
	echo "broker restart test (alone: it restarts RabbitMQ)"; \
	MQOPS_BIN=$(CURDIR)/$(BIN) MQOPS_RESTART_TEST=1 $(GO) test -count=1 -timeout 5m -run '^TestDrainBrokerRestart$$' ./cmd/mqops/

## unit: the fast tests only (kfake, no external services)
unit:
	MQOPS_REQUIRE_INTEGRATION=0 $(GO) test -count=1 -short $(PKGS)

test-env-up:
	scripts/testenv up

test-env-down:
	scripts/testenv down

## bench: benchmarks against the real broker; writes docs/BENCHMARKS.md
bench: build
	@set -euo pipefail; \
	trap 'scripts/testenv down >&2 || true' EXIT; \
	eval "$$(scripts/testenv up)"; \
	scripts/bench

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin
