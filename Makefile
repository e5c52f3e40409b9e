# The two set-up commands are `make demo` and `make test`; both work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all demo test install system-deps lint typecheck pytest bench fuzz clean

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
	$(BIN)/ruff check python tests benchmarks examples scripts
	$(BIN)/ruff format --check python tests benchmarks examples scripts

typecheck: install
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest tokenward._core --allowlist stubtest-allowlist.txt

pytest: install
	$(BIN)/python -m pytest

test: lint typecheck pytest

demo: install
	$(BIN)/python examples/quickstart.py

bench: install
	$(PIP) install -q ".[bench]"
	$(BIN)/python -m benchmarks

clean:
	rm -rf build build-* $(VENV) .pytest_cache .mypy_cache .ruff_cache

# libFuzzer with ASan+UBSan over the token, JWK/JWKS/PEM and JSON/base64url parsers.
FUZZ_SECONDS ?= 60
fuzz: $(BIN)/python system-deps
	@command -v clang++ >/dev/null || (apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev)
	$(PIP) install -q "nlohmann-json>=3.11.3"
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DPython_EXECUTABLE=$(abspath $(BIN)/python) -DTOKENWARD_BUILD_MODULE=OFF -DTOKENWARD_BUILD_FUZZERS=ON
	cmake --build build-fuzz
	$(BIN)/python scripts/fuzz_seeds.py build-fuzz/corpus
	for t in fuzz_token fuzz_jwk fuzz_json; do \
	  mkdir -p build-fuzz/corpus/$$t && \
	  build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 build-fuzz/corpus/$$t || exit 1; \
	done
