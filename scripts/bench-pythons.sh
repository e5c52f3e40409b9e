#!/usr/bin/env bash
# The verify benchmark (python -m benchmarks --verify-only: the floor, tokenward and every peer on
# the same tokens, ratios per algorithm) on each interpreter named (default 3.12 and 3.13; found
# by scripts/pythons.sh, a missing one skipped with a notice), each in its own venv
# (.venv-bench-3.12 ...) with tokenward built for it and the bench extra, which adds ryjwt on
# 3.12+. On the versions in BENCH_FASTAPI_PEERS (default 3.12) the FastAPI peers section runs too
# (--fastapi-peers: the ryjwt dependency beside oxyjwt's, PyJWT's and tokenward's, ~5 minutes).
# Reports go to benchmarks/results/latest-3.12.json ...; `make bench` runs this after the main
# run and then prints every interpreter side by side (python -m benchmarks.pythons).
#   bash scripts/bench-pythons.sh [--quick] [3.12 3.13]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH
args=()
if [ "${1:-}" = "--quick" ]; then
  args+=(--quick)
  shift
fi
[ "$#" -gt 0 ] || set -- 3.12 3.13

failed=()
while read -r version python; do
  if [ "$python" = "-" ]; then
    echo "== Python $version: not found (python$version on PATH, pyenv versions); no benchmark run"
    continue
  fi
  venv=".venv-bench-$version"
  echo "== Python $version: $python ($venv)"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  # Rebuilt only when a source changed since the last good install (as `make install` does).
  stamp="$venv/.tokenward-installed"
  if [ ! -e "$stamp" ] || [ -n "$(find pyproject.toml CMakeLists.txt cpp python -type f -newer "$stamp" \
    ! -name '*.so' ! -name '*.pyc' ! -path '*/__pycache__/*' | head -n 1)" ]; then
    echo "building tokenward for Python $version with the bench extra (log: $venv/install.log)"
    if ! "$venv/bin/python" -m pip install -v -C cmake.define.TOKENWARD_WERROR=ON ".[bench]" \
      > "$venv/install.log" 2>&1; then
      tail -n 40 "$venv/install.log"
      failed+=("$version")
      continue
    fi
    touch "$stamp"
  fi
  [ -d build/pyjwt-2.10/jwt ] ||
    "$venv/bin/python" -m pip install -q --no-deps --target build/pyjwt-2.10 "pyjwt==2.10.1"
  extra=()
  case " ${BENCH_FASTAPI_PEERS-3.12} " in *" $version "*) extra+=(--fastapi-peers) ;; esac
  if ! "$venv/bin/python" -m benchmarks --verify-only "${args[@]}" "${extra[@]}" \
    --output "benchmarks/results/latest-$version.json"; then
    failed+=("$version")
  fi
done < <(bash scripts/pythons.sh "$@")
[ "${#failed[@]}" -eq 0 ] || { echo "== benchmark failed on: ${failed[*]}" >&2; exit 1; }
