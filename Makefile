# Two commands for a new user: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint audit services bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall when the dependencies change.
$(VENV)/.run: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@ $(VENV)/.run

## make run: start everything on embedded defaults with demo outlets (no Docker, Redis or internet)
run: $(VENV)/.run
	$(BIN)/crossfeed up --demo

## make test: install what the tests need, start PostgreSQL, Redis and a WordPress on 127.0.0.1
## if absent, run every check
test: $(VENV)/.test services lint audit
	$(BIN)/pytest -n auto --dist loadgroup

lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	scripts/check-compose.sh

## make audit: the pinned dependencies (constraints.txt: what make and the Dockerfile install)
## against PyPI's vulnerability advisories; fails on a known one, and when it cannot read them
audit: $(VENV)/.test
	$(BIN)/python scripts/audit.py constraints.txt

services:
	scripts/ensure-services.sh
	scripts/wordpress-up.sh > /dev/null

## make bench: the benchmarks under bench/ (helpers, named _*.py, are not run), each printing
## figures and a ratio against a peer
bench: $(VENV)/.test
	scripts/ensure-services.sh --bench
	scripts/wordpress-up.sh > /dev/null
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

## make lock: refreeze constraints.txt from a fresh install of pyproject.toml's ranges
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --upgrade pip && .venv-lock/bin/pip install --quiet -e '.[test]'
	{ echo "# Exact versions that make test passed with; pip installs within them (make, Dockerfile)."; \
	  echo "# Regenerate with 'make lock' after changing dependencies in pyproject.toml."; \
	  .venv-lock/bin/pip freeze --exclude-editable | grep -v '^crossfeed'; } > constraints.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
