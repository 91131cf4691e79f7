# Two commands do all the set-up on a fresh machine: `make quickstart` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# Override for a GPU build, e.g. make test TORCH_SPEC="torch==2.13.0 --index-url ..."
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install dev quickstart test test-fast lint clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install dev: $(VENV)/.installed

quickstart: $(VENV)/.installed
	$(BIN)/hwnas quickstart

# every test, the slow ones (subprocess resume, README example) included
test: $(VENV)/.installed browser
	$(BIN)/python -m pytest -q -m "slow or not slow"

# headless Chromium and its driver (Debian packages) for tests/test_browser.py
browser:
	sh .ci/install_browser

# the fast default selection, for the edit-test loop
test-fast: $(VENV)/.installed
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
