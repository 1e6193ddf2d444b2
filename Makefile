# Tessera: `make run` serves a homeserver on SQLite at http://localhost:8008/, `make test` runs
# every test. Both set everything up first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= data
PORT ?= 8008

.PHONY: setup synapse run test lint format services bench bench-media bench-search bench-federation fuzz clean web web-deps test-web node-check

$(STAMP): pyproject.toml
	@echo "creating $(VENV) (a Python virtual environment, with $(PYTHON))"
	$(PYTHON) -m venv $(VENV)
	@echo "upgrading pip in $(VENV)"
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing Python dependencies into $(VENV): Tessera and its dev tools (pyproject.toml)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)
	@echo "$(VENV) is ready"

setup: $(STAMP)

# Synapse for the interop tests (tests/interop): a venv of its own, from PyPI.
SYNAPSE_VENV := .venv-synapse
SYNAPSE_STAMP := $(SYNAPSE_VENV)/.installed-stamp
SYNAPSE_REQUIREMENTS := tests/interop/requirements-synapse.txt

$(SYNAPSE_STAMP): $(SYNAPSE_REQUIREMENTS)
	@echo "creating $(SYNAPSE_VENV) (Synapse for the interop tests, $(SYNAPSE_REQUIREMENTS))"
	$(PYTHON) -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet -r $(SYNAPSE_REQUIREMENTS)
	touch $(SYNAPSE_STAMP)
	@echo "$(SYNAPSE_VENV) is ready"

synapse: $(SYNAPSE_STAMP)

# The web client (web/, README "Web client"): rebuilt when web/dist is missing or older than its
# sources. Without Node.js the server still runs and / says how to build the client.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json web/package-lock.json
WEB_DIST := web/dist/index.html
WEB_DEPS := web/node_modules/.package-lock.json

node-check:
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
		echo "The web client needs Node.js 20 or newer with npm 11: install them (Debian: apt-get install nodejs npm; or https://nodejs.org), then run make again." >&2; \
		exit 1; }

$(WEB_DEPS): web/package.json web/package-lock.json
	@$(MAKE) --no-print-directory node-check
	@echo "installing the web client's npm packages (web/package-lock.json)"
	cd web && npm ci --no-audit --no-fund

web-deps: $(WEB_DEPS)

$(WEB_DIST): $(WEB_SOURCES) $(WEB_DEPS)
	@echo "building the web client into web/dist/"
	cd web && npm run build

web: $(WEB_DIST)

# Vitest unit tests, then Playwright end to end in Debian's Chromium against a live Tessera
# (screenshots in web/test-results/).
test-web: setup web
	cd web && npm test
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the web client's browser tests"; \
		apt-get install -y chromium >/dev/null || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }; }
	cd web && TESSERA_PYTHON=$(CURDIR)/$(PY) npm run e2e

run: setup
	@$(MAKE) --no-print-directory web || echo "The web client was not built: serving the API only (/ says how to build it)."
	@echo "Tessera homeserver: http://localhost:$(PORT)/ (server name localhost, data in $(DATA_DIR)/)"
	$(PY) -m homeserver serve --server-name localhost --bind 127.0.0.1 --port $(PORT) \
		--data-dir $(DATA_DIR) --enable-registration --enable-url-previews

services:
	./scripts/test-services.sh

# The sync benchmark (bench/README.md): 1,000 users in /sync long-polls, 20 msg/s for 60 s, the
# same load against Synapse in a venv of its own. `make bench BENCH_ARGS=` runs Tessera alone.
BENCH_ARGS ?= --compare-synapse

bench: setup
	$(PY) -m bench.sync_bench --scenario default $(BENCH_ARGS)

# The media benchmark (bench/README.md, "Media"): upload/download throughput, thumbnail latency
# and the server's peak RSS during a 500 MiB streamed upload; writes bench/results/media.json.
bench-media: setup
	$(PY) -m bench.media_bench

# The federation benchmark (bench/README.md, "Federation"): two Tessera servers over TLS on
# loopback; cross-server delivery latency and joining a remote room of 1,000 members; writes
# bench/results/federation.json.
bench-federation: setup
	$(PY) -m bench.federation_bench

# The search benchmark (bench/README.md, "Search"): 1,000,000 messages generated into storage and
# indexed; query latency (p50/p99) by kind of term and the index size. SEARCH_BENCH_ARGS=
# "--backend both" adds PostgreSQL; writes bench/results/search-<backend>.json.
SEARCH_BENCH_ARGS ?=
bench-search: setup
	$(PY) -m bench.search_bench $(SEARCH_BENCH_ARGS)

# The long fuzz run (README "Fuzzing"): the whole mutation catalogue on every endpoint plus
# FUZZ_EXAMPLES hypothesis examples per endpoint and family, on both backends; writes
# bench/results/fuzz.json. `make test` runs a bounded share of the same suite.
FUZZ_EXAMPLES ?= 50

fuzz: setup services
	FUZZ_PROFILE=long FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_REPORT=bench/results/fuzz.json \
		$(VENV)/bin/pytest -q -p no:cacheprovider tests/fuzz

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup synapse services lint
	$(VENV)/bin/pytest -q
	@$(MAKE) --no-print-directory test-web

clean:
	rm -rf $(VENV) $(SYNAPSE_VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
