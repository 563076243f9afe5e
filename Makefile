# snnexp: `make run` (the offline demo) and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The torch wheels come from this machine's disk (pip finds them via its config); never uv/poetry.
PIP := $(BIN)/python -m pip
ARGS ?=
export WANDB_SILENT ?= true

.DEFAULT_GOAL := help
.PHONY: help venv run test test-all lint format battery bench claims clean

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  \033[36m%-26s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## create .venv and install snnexp (editable) with its dev tools

run: $(STAMP) ## the demo: SEW-style SNN on scikit-learn digits (offline, 14-17 s on 2 idle cores)
	$(BIN)/snnexp train $(ARGS)

# tests run in TEST_JOBS processes (pytest-xdist); every test is single-threaded (tests/conftest.py)
TEST_JOBS ?= 2
test: $(STAMP) ## the test suite (what CI runs), including the digits demo [TEST_JOBS=2]
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) -m 'not slow or demo' $(ARGS)

test-all: $(STAMP) ## every test, the slow ones too [TEST_JOBS=2]
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) -m '' $(ARGS)

lint: $(STAMP) ## ruff (check + format check, pinned in pyproject.toml) and the layering contracts (import-linter)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/lint-imports

format: $(STAMP) ## ruff autofix + format, and the README's config-group table regenerated from conf/
	$(BIN)/ruff check --fix src tests scripts
	$(BIN)/ruff format src tests scripts
	$(BIN)/python scripts/update_readme.py

battery: $(STAMP) ## a hostile user's bad inputs: each must be one line, exit 2, no traceback, nothing left (141 cases, ~5-10 min on 2 busy cores)
	$(BIN)/python scripts/hostile_battery.py --jobs $(TEST_JOBS)

QUICK ?=
bench: $(STAMP) ## speed/memory benchmarks (scripts/bench_*.py), estimate first; QUICK=1: about a minute
	$(BIN)/python scripts/bench.py $(if $(QUICK),--quick,)

PAPER ?=
claims: $(STAMP) ## the papers' claims in miniature on digits, several seeds each: table + PNGs in outputs/claims [PAPER=sew]
	$(BIN)/snnexp claims $(PAPER) --out outputs/claims $(ARGS)

clean: ## remove caches and build files (keeps .venv and outputs/)
	rm -rf build dist .pytest_cache .ruff_cache src/*.egg-info
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +

# paper tables (make/tables.mk): make table-sew-dvs-gesture [DRY=1] [DATA=/path]
-include make/*.mk
