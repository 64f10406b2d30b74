# The two commands of the README's quick start: `make run` and `make test`.
# TORCH pins the CPU wheel these machines carry; on a CUDA box use `make TORCH=torch ...`
# to let pip pick the CUDA build (the project itself asks for torch>=2.4).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
SPEC ?= examples/plain-deep-mlp.json
BIN := $(VENV)/bin

.PHONY: setup run test lint

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/gradprobe-server run $(SPEC) -o result.json

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q
