# The two commands of the Quickstart are `make run` and `make test`; each installs what it needs into .venv.
# The interpreter .venv is made from (`make PYTHON=/path/to/python3 install` chooses another). Preferred: a Python
# 3.11 or newer whose executable holds the interpreter itself instead of loading libpython as a shared library, as
# Debian's /usr/bin/python3 does: Martinet spent 15 % less CPU per message on it than on a pyenv build loading
# libpython (without --enable-optimizations or --with-lto), at the median of six alternated pairs (2 to 30 %,
# docs/benchmarks.md). Else python3 on the PATH.
PYTHON_CANDIDATES := python3 /usr/bin/python3 /usr/local/bin/python3
PYTHON_CHECK := import sys, ensurepip; sys.exit(sys.version_info < (3, 11) or b"libpython" in open("/proc/self/maps", "rb").read())
PYTHON ?= $(or $(firstword $(foreach candidate,$(PYTHON_CANDIDATES),$(shell $(candidate) -c '$(PYTHON_CHECK)' 2>/dev/null && echo $(candidate)))),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HTTP ?= 127.0.0.1:8080
DATA ?= ./var

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	@echo "making $(VENV) with $(PYTHON) ($$($(PYTHON) -c 'import sys; print(sys.version.split()[0])'))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/martinet demo --http $(HTTP) --data $(DATA)

test: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist worksteal -q

# Unit and sans-I/O tests only (marked `unit`): no database, network or subprocess; well under a minute.
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -q -m unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
