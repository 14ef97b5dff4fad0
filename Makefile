# Two entry points for a fresh clone: `make quickstart` and `make test`. Each creates .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: quickstart test lint format clean-venv

$(STAMP): setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

quickstart: $(STAMP)
	$(BIN)/vlkit quickstart $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check vlkit tests projects benchmarks examples setup.py
	$(BIN)/ruff format --check vlkit tests benchmarks examples setup.py

test: lint
	$(BIN)/python -m pytest -q --durations=15 $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format vlkit tests benchmarks examples setup.py
	$(BIN)/ruff check --fix vlkit tests projects benchmarks examples setup.py

clean-venv:
	rm -rf $(VENV)
