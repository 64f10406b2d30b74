# The two commands of the README's quick start: `make run` and `make test`.
# TORCH pins the CPU wheel these machines carry; on a CUDA box use `make TORCH=torch ...`
# to let pip pick the CUDA build (the project itself asks for torch>=2.4).
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
SPEC ?= examples/plain-deep-mlp.json
BIN := $(VENV)/bin

.PHONY: setup run up test lint servers

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

run: setup
	$(BIN)/gradprobe-server run $(SPEC) -o result.json

# The service on its embedded default: SQLite and a filesystem broker, no other server.
up: setup
	$(BIN)/gradprobe-server up

# The integration tests start real Redis and PostgreSQL servers (and check the compose file
# with Debian's docker-compose): install them when they are missing.
SERVER_PACKAGES := redis-server postgresql docker-compose
servers:
	@if ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! command -v docker-compose >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $(SERVER_PACKAGES); \
	fi

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint servers
	$(BIN)/python -m pytest -q
