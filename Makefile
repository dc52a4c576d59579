# Two entry points for a fresh machine with Python 3.11+: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck check clean bench soak

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/hookline serve

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy

check: test lint typecheck

# The benchmark suite (docs/benchmarks.md); never part of `make test`.
# `make bench` runs everything (about an hour); `make bench ARGS=--quick` is a smoke run.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(ARGS)

# The long fault-injection runs (docs/reliability.md); `make test` runs shortened ones.
# 20 crash rounds of 2,000 events per configuration and every shutdown case; the figures
# are printed and kept in reliability-figures.jsonl.
soak: $(STAMP)
	rm -f reliability-figures.jsonl
	HOOKLINE_SOAK=1 HOOKLINE_FIGURES=reliability-figures.jsonl $(BIN)/pytest tests/reliability -rA
	cat reliability-figures.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
