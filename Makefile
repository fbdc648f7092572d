# SwarmDeck — the two commands a newcomer needs are `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Re-install only when the dependency list changed.
INSTALLED := $(VENV)/.installed

.PHONY: install dev test test-fast lint format bench emulators clean

install: $(INSTALLED)

$(INSTALLED): pyproject.toml worker/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[worker,dev]' -r worker/requirements.txt
	touch $(INSTALLED)

## Start the whole local stack (dashboard, Celery, emulators) under one supervisor.
dev: install
	$(PY) -m dashboard.devstack

## Every test, against real PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set.
test: install
	$(PY) -m pytest

## The quick loop: skip tests marked slow.
test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

## Run every benchmark in tests/benchmarks/: one table (stderr) and one JSON document (stdout).
## `make bench BENCH_ARGS=--quick` for smaller runs.
bench: install
	$(PY) tests/benchmarks/run_all.py $(BENCH_ARGS)

## Only the two emulators, on their standard ports (SwarmUI 7801, RunPod 8900).
emulators: install
	mkdir -p var/volume
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH honcho -f Procfile.emulators start

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
