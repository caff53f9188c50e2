# pnyx: `make run` starts a daemon for a default local assembly, `make test` runs the suite.
PYTHON ?= $(shell for p in python3.12 python3.11 python3.10 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys, ensurepip, venv; sys.exit(not (3,10) <= sys.version_info[:2] < (3,13))' 2>/dev/null \
	&& echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
DATA ?= $(CURDIR)/data/default
LISTEN ?= 127.0.0.1:7464
PYTEST_ARGS ?=
TEST_WORKERS ?= 2

.PHONY: run test test-packages lint bench typing-shim compiled clean

$(BIN)/pnyx: pyproject.toml
	@test -n "$(PYTHON)" || { echo "pnyx needs Python 3.10, 3.11 or 3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

# federation's hot decoding modules compiled by mypyc (README, "Compiled modules"): again
# whenever the sources in federation/ differ from those of the last build (by their hashes,
# not their times); without a C compiler pnyx runs in pure Python and says so. `make test`
# and `make bench` require them, and a test checks that they are the modules loaded.
compiled: $(BIN)/pnyx typing-shim
	@$(BIN)/python -m pnyx.compiled.build $(COMPILE_FLAGS)

test bench: COMPILE_FLAGS := --required

run: $(BIN)/pnyx compiled
	@test -f "$(DATA)/identity.json" || $(BIN)/pnyx --data "$(DATA)" init --assembly "Local assembly"
	$(BIN)/pnyx --data "$(DATA)" run --listen $(LISTEN)

# First the system packages the tests need (tests/system-packages.txt): installed where this
# machine allows it, else make stops at once with the command to run. The tests run in a
# shuffled order (pytest-randomly prints its seed: PYTEST_ARGS=--randomly-seed=N repeats one,
# PYTEST_ARGS="-p no:randomly" keeps the file order), spread over TEST_WORKERS processes
# (pytest-xdist; TEST_WORKERS=0 runs them in this one) that tests/conftest.py keeps apart
# where they must not run at once.
test-packages:
	@bash tests/system-packages.sh

test: test-packages $(BIN)/pnyx compiled
	$(BIN)/python -m pytest -q --durations=20 -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

typing-shim:
	@mkdir -p build/typing/pnyx
	@ln -sfn ../../../federation build/typing/pnyx/federation
	@ln -sfn ../../../daemon build/typing/pnyx/daemon
	@ln -sfn ../../../client build/typing/pnyx/client
	@ln -sfn ../../../compiled build/typing/pnyx/compiled

lint: $(BIN)/pnyx typing-shim
	$(BIN)/ruff check federation daemon client compiled tests bench protocol-spec
	$(BIN)/mypy -p pnyx.federation -p pnyx.daemon -p pnyx.client -p pnyx.compiled

bench: $(BIN)/pnyx compiled
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
