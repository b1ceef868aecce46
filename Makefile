# One scripted dev loop: `make demo` runs the product, `make test` runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
DEMO   ?= demo-project
export YOLO_OFFLINE := 1

.PHONY: setup setup-core browsers lint format test test-fast test-pg bench demo clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# Core install: ingest, database, web UI, ONNX inference (no torch).
$(VENV)/.core: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $@

# Everything: training (torch, ultralytics), scale-out (psycopg, celery), dev and test tools.
$(VENV)/.all: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[all]'
	touch $@ $(VENV)/.core

setup-core: $(VENV)/.core
setup: $(VENV)/.all

browsers:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

# The whole suite on SQLite, then every database test again on PostgreSQL.
test: setup browsers
	$(PY) -m pytest -n 2 --dist loadgroup
	WILDLOOP_TEST_PG=$(PG_URL) $(PY) -m pytest -n 2 --dist loadgroup
	$(VENV)/bin/lint-imports

test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow"

test-pg: setup
	WILDLOOP_TEST_PG=$(PG_URL) $(PY) -m pytest -n 2 --dist loadgroup

bench: setup
	$(PY) bench/ingest_throughput.py

demo: setup-core
	$(VENV)/bin/wildloop demo $(DEMO)

clean:
	rm -rf $(DEMO) .pytest_cache .ruff_cache .mypy_cache
