# Tessera: `make run` serves a homeserver on SQLite at http://localhost:8008/, `make test` runs
# every test. Both set everything up first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= data
PORT ?= 8008

.PHONY: setup run test lint format services bench bench-media fuzz clean

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

run: setup
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

test: setup services lint
	$(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
