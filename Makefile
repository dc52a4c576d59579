# Two entry points for a fresh machine with Python 3.11+: `make serve` and `make test`.
# `make serve` installs what serving needs; `make test` (lint, typecheck) adds the test and
# lint tools (the `dev` extra). Both in .venv: `. .venv/bin/activate` puts `hookline` on
# the PATH.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: serve dev test lint typecheck check clean bench soak image-test

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(DEV_STAMP)

serve: $(STAMP)
	$(BIN)/hookline serve

# `serve` in dev mode on the same database: webhooks may use http:// and localhost, and
# deliveries trust the local CA of `hookline listen --https` once it has made one
# (unless HOOKLINE_CA_BUNDLE says otherwise). See docs/receiving.md.
LISTEN_CA ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hookline/listen/ca.pem
dev: $(STAMP)
	HOOKLINE_DEV=1 $(if $(HOOKLINE_CA_BUNDLE),,$(if $(wildcard $(LISTEN_CA)),HOOKLINE_CA_BUNDLE='$(LISTEN_CA)')) $(BIN)/hookline serve

# The suite runs in TEST_WORKERS processes (pytest-xdist). Most of its time is spent
# waiting (for servers, receivers, subprocesses, retries), so more workers than cores
# help; worksteal keeps every worker busy to the end. TEST_WORKERS=0: one process.
# Python may cache bytecode (__pycache__, ignored by git) whatever the environment says:
# the suite starts hundreds of hookline processes and 5 pytest processes, and without the
# cache each compiles the package (and pytest rewrites every test module) again.
TEST_WORKERS ?= 4
test: $(DEV_STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

check: test lint typecheck

# The benchmark suite (docs/benchmarks.md); never part of `make test`.
# `make bench` runs everything (about an hour); `make bench ARGS=--quick` is a smoke run.
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(DEV_STAMP) pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(ARGS)

# The long fault-injection runs (docs/reliability.md); `make test` runs shortened ones.
# 20 crash rounds of 2,000 events per configuration and every shutdown case; the figures
# are printed and kept in reliability-figures.jsonl.
soak: $(DEV_STAMP)
	rm -f reliability-figures.jsonl
	HOOKLINE_SOAK=1 HOOKLINE_FIGURES=reliability-figures.jsonl $(BIN)/pytest tests/reliability -rA
	cat reliability-figures.jsonl

# The container image, built with podman from the Dockerfile and run: serve's health, one
# delivery to an HTTPS receiver (docs/deployment.md). As root; installs podman, runc and
# debootstrap with apt-get if missing. ARGS: --runner podman|chroot, --rebuild-base, --keep.
image-test: $(DEV_STAMP)
	$(BIN)/python -m tests.cli.image_run $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
