# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual env and install the project first; the local stack (Temporal dev
# server, Kafka with its jars resolved by Maven) is set up on its first start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint stack-start stack-stop clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(BIN)/python -m examples.demo

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack-start: $(INSTALLED)
	$(BIN)/python -m stack start

stack-stop: $(INSTALLED)
	$(BIN)/python -m stack stop

clean: stack-stop
	rm -rf .stack $(VENV)
