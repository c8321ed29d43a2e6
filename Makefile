# Udyog — the two commands: `make run` and `make test`.
# Needs only Python 3.11+, git and make; everything else is installed into .venv.

SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
            if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PLUGIN_DIRS := $(sort $(dir $(wildcard plugins/*/pyproject.toml)))
TEST_PLUGIN_DIRS := $(sort $(dir $(wildcard tests/plugins/*/pyproject.toml)))
export UDYOG_DATA_DIR ?= var
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install bench lint docs clean

$(BIN)/python:
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 or newer is required" >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python sdk/pyproject.toml core/pyproject.toml $(addsuffix pyproject.toml,$(PLUGIN_DIRS))
	$(BIN)/pip install --quiet -e sdk -e core $(addprefix -e ,$(PLUGIN_DIRS))
	$(BIN)/python -c "from udyog_sdk.exports import prepare_fonts; prepare_fonts()"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml $(addsuffix pyproject.toml,$(TEST_PLUGIN_DIRS))
	$(BIN)/pip install --quiet -e '.[dev]' $(addprefix -e ,$(TEST_PLUGIN_DIRS))
	touch $@

install: $(VENV)/.installed

## make run: install, migrate the embedded SQLite database, load the demo tenant, serve.
run: install
	@mkdir -p $(UDYOG_DATA_DIR)
	$(BIN)/udyog db upgrade
	$(BIN)/udyog demo
	$(BIN)/udyog run --host $(HOST) --port $(PORT)

## make test: install with the development tools and run every test.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n 2 --dist loadgroup --durations=30

## make bench: benchmarks (not part of the tests); prints ratios against baselines.
bench: $(VENV)/.installed-dev
	$(BIN)/python -m tests.bench

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: install
	$(BIN)/udyog docs hooks -o docs/hooks.md

clean:
	rm -rf $(VENV) var .pytest_cache
