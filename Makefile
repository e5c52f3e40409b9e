# The two set-up commands are `make demo` and `make test`; both work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all demo test install system-deps lint typecheck pytest bench clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

system-deps:
	@bash scripts/system-deps.sh

# The package with every extra the tests and the demo use; warnings are errors in this build.
install: $(BIN)/python system-deps
	$(PIP) install -q -C cmake.define.TOKENWARD_WERROR=ON ".[test,fastapi]"

lint: install
	$(BIN)/ruff check python tests benchmarks examples
	$(BIN)/ruff format --check python tests benchmarks examples

typecheck: install
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest tokenward._core --allowlist stubtest-allowlist.txt

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck pytest

demo: install
	$(BIN)/python examples/demo.py

bench: install
	$(PIP) install -q ".[bench]"
	$(BIN)/python -m benchmarks

clean:
	rm -rf build build-* $(VENV) .pytest_cache .mypy_cache .ruff_cache
