# The two commands: `make run` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
DEMO_DIR ?= var/demo
DEMO_SIZE ?= small
# One test worker per core; PYTEST_WORKERS=0 runs the suite in one process.
PYTEST_WORKERS ?= auto

.PHONY: run test setup lint typecheck clean

run: setup
	$(BIN)/gateway init
	$(BIN)/gateway demo-data --size $(DEMO_SIZE) --out $(DEMO_DIR)
	$(BIN)/gateway ingest $(DEMO_DIR)/oneroster --adapter oneroster --source demo-city
	$(BIN)/gateway summary --source demo-city

test: setup
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

setup: $(INSTALLED)

$(INSTALLED): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(INSTALLED)

lint: setup
	$(BIN)/ruff check gateway adapters tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache *.egg-info
