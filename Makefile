# mcp-gateway: `make run` starts one node on its embedded default; `make test` runs every test.
# Everything a fresh machine lacks is installed here (CI runs as root with no terminal).

SWIFT ?= swift
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
BIN := .build/debug/mcpgateway
HOST ?= 127.0.0.1
PORT ?= 4444
export SWIFT_BACKTRACE ?= enable=no

.PHONY: all build run test unit-test integration-test bench deps apt-bench clean token

all: build

## Python venv with the official MCP SDK (upstreams and clients of the integration tests).
$(VENV_STAMP): Tests/Integration/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/Integration/requirements.txt
	touch $(VENV_STAMP)

deps: $(VENV_STAMP)
	@command -v $(SWIFT) >/dev/null || { echo "swift is required (6.2 or later)" >&2; exit 1; }

build:
	$(SWIFT) build --product mcpgateway

## One node on 127.0.0.1:4444 with SQLite under ./data; prints an admin token first. The binary
## refuses loopback upstreams by default (SSRF guard); this local run allows them for the walk-through.
run: build
	@mkdir -p data
	@echo "Admin token (valid 7 days):" >&2
	@$(BIN) token --admin --username admin@example.com --exp-minutes 10080
	@echo "Gateway on http://$(HOST):$(PORT)  (Ctrl-C stops it; upstreams on loopback allowed for this local run)" >&2
	@HOST=$(HOST) PORT=$(PORT) SSRF_ALLOW_LOCALHOST=$${SSRF_ALLOW_LOCALHOST:-true} exec $(BIN) serve

token: build
	@$(BIN) token --admin --username admin@example.com --exp-minutes 10080

test: unit-test integration-test

unit-test:
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

integration-test: deps build
	$(VENV)/bin/pytest Tests/Integration -q -p no:cacheprovider

## Benchmarks (release builds, wrk): see Benchmarks/README.md.
apt-bench:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

bench: apt-bench deps
	$(SWIFT) build -c release --product mcpgateway
	$(SWIFT) build -c release --product FastUpstream
	$(VENV)/bin/python Benchmarks/run.py

clean:
	rm -rf .build
