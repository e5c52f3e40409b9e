#!/usr/bin/env bash
# Builds tokenward for each supported interpreter that is present (scripts/pythons.sh finds them)
# and runs the tests with it: one venv per interpreter, .venv-3.11, .venv-3.12, .venv-3.13, each
# with the package installed from this tree with the test and fastapi extras (the same build as
# `make install`: warnings are errors). A missing interpreter is skipped with a notice. Exits
# non-zero when a build or a test run failed on any of them.
#   bash scripts/test-pythons.sh                 # the whole suite on each (make test-pythons)
#   bash scripts/test-pythons.sh --quick         # the quick subset below on each (.ci/run)
#   bash scripts/test-pythons.sh --quick 3.13    # only the versions named
#   PYTEST_ARGS="-x" bash scripts/test-pythons.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH  # the tests must import the tokenward installed in each venv

# The quick subset (1,622 of the suite's 2,430 tests, plus the 5,292 Wycheproof and Ignis known
# answers where ../shared/vectors is present; 100 to 150 s on the 2-vCPU reference machine, where
# the whole suite takes 240 s): the C++ core through its Python API (tokens, keys, JWKS, claims,
# the RFC and Wycheproof vectors, the attacks, PyJWT/joserfc interop, thread safety, the async
# verifier), the layer rule, the error codes, sessions on SQLite, and the FastAPI layer in process
# and under a real uvicorn. It leaves out the CLI, the PostgreSQL stores, moto's Cognito, the
# browser test, the multi-process tests and the benchmark smoke tests; `make test-pythons` runs
# them all.
QUICK_TESTS=(
  tests/test_layers.py
  tests/test_base64url.py
  tests/test_encode_decode.py
  tests/test_tokens.py
  tests/test_claims.py
  tests/test_jwk.py
  tests/test_jwks.py
  tests/test_jwkset.py
  tests/test_rfc_vectors.py
  tests/vectors
  tests/test_attacks.py
  tests/test_interop.py
  tests/test_error_codes.py
  tests/test_threads.py
  tests/test_token_cache.py
  tests/test_verifier_async.py
  tests/test_field_cipher.py
  tests/test_sessions.py
  tests/test_fastapi_auth.py
  tests/test_fastapi_rbac.py
  tests/test_fastapi_robustness.py
  tests/test_fastapi_docs.py
  tests/test_fastapi_uvicorn.py
)

quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi

failed=()
passed=()
skipped=()
while read -r version python; do
  if [ "$python" = "-" ]; then
    echo "== Python $version: not found (python$version on PATH, pyenv versions); skipped"
    skipped+=("$version")
    continue
  fi
  venv=".venv-$version"
  echo "== Python $version: $python ($venv)"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  # Rebuilt only when a source changed since the last good install (as `make install` does).
  stamp="$venv/.tokenward-installed"
  if [ ! -e "$stamp" ] || [ -n "$(find pyproject.toml CMakeLists.txt cpp python -type f -newer "$stamp" \
    ! -name '*.so' ! -name '*.pyc' ! -path '*/__pycache__/*' | head -n 1)" ]; then
    echo "building tokenward for Python $version (log: $venv/install.log)"
    if ! "$venv/bin/python" -m pip install -v -C cmake.define.TOKENWARD_WERROR=ON ".[test,fastapi]" \
      > "$venv/install.log" 2>&1; then
      tail -n 40 "$venv/install.log"
      echo "== Python $version: the build or install failed (full log: $venv/install.log)"
      failed+=("$version (build)")
      continue
    fi
    touch "$stamp"
  fi
  if [ "$quick" -eq 1 ]; then
    tests=("${QUICK_TESTS[@]}")
  else
    tests=()
  fi
  # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words
  if "$venv/bin/python" -m pytest -q -p no:cacheprovider ${PYTEST_ARGS:-} "${tests[@]}"; then
    passed+=("$version")
  else
    failed+=("$version (tests)")
  fi
done < <(bash scripts/pythons.sh "$@")

echo "== passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; not found: ${skipped[*]:-none}"
[ "${#failed[@]}" -eq 0 ]
