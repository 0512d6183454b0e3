# The two commands a newcomer runs: `make demo` and `make test`. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test lint types generate check-generated docs pytest chaos chaos-small stress bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Start the local Flow server and run the main examples end to end against it.
demo: venv
	$(PY) scripts/run_examples.py --demo

## Lint, types, generated-code check, docs build and the test suite.
test: venv lint types check-generated docs pytest chaos-small

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: venv
	$(VENV)/bin/mypy

generate: venv
	$(PY) scripts/generate_sync.py

check-generated: venv
	$(PY) scripts/generate_sync.py --check

## Not -q: mkdocs' quiet mode drops warnings before --strict counts them.
docs: venv
	NO_MKDOCS_2_WARNING=1 \
	$(VENV)/bin/mkdocs build --strict -d $(VENV)/site

pytest: venv
	$(VENV)/bin/pytest -q

## Seeded fault-injection matrix at full size (make test runs a smaller one).
chaos: venv
	$(PY) -m flowbio_async.testing.chaos --transfers 500 --cancellations 100

## The same matrix at a small size (part of `make test`; about a minute on 2 cores).
chaos-small: venv
	$(PY) -m flowbio_async.testing.chaos --transfers 60 --cancellations 20

## The timing-sensitive tests (marker `timing`) STRESS_REPEAT times each beside a CPU, disk
## and network load that stops by itself (at most STRESS_DURATION seconds). Not part of
## `make test`; run it after touching cancellation, the portal, transfers, HTTP or the CLI.
STRESS_REPEAT ?= 20
STRESS_DURATION ?= 3600
stress: venv
	$(PY) scripts/stress.py --repeat $(STRESS_REPEAT) --duration $(STRESS_DURATION)

## Side-by-side benchmarks (installs the official client for comparison, and the system's
## aria2 package for the segmented-download row when aria2c is missing: needs apt and root).
bench: venv
	$(PY) -m pip install -q -e '.[bench]'
	command -v aria2c >/dev/null || apt-get install -y aria2 || (apt-get update && apt-get install -y aria2)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache
