#!/usr/bin/env bash
# Installs a built wheel into a fresh virtual environment, with no index and no compiler on PATH,
# and runs examples/quickstart.py and the command line with it. `make wheel` runs it.
#   bash scripts/check-wheel.sh dist/tokenward-*.whl
set -euo pipefail
wheel="${1:?usage: check-wheel.sh WHEEL}"
python="${PYTHON:-python3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
wheel="$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")"

"$python" -m venv "$work/venv"
# No index: the wheel has no dependencies to fetch, and nothing may be built from source.
"$work/venv/bin/python" -m pip install -q --no-index --only-binary=:all: "$wheel"

# No compiler, no -dev package: a PATH without the toolchain, run from outside the source tree.
mkdir -p "$work/bin"
for tool in sh env; do ln -s "$(command -v "$tool")" "$work/bin/$tool"; done
cd "$work"
PATH="$work/bin" "$work/venv/bin/python" "$root/examples/quickstart.py" > "$work/quickstart.out"
tail -n 3 "$work/quickstart.out"

core="$(find "$work/venv" -name '_core*.so')"
libs="$(dirname "$core")/../tokenward.libs"
echo "native module: ${core#"$work/venv/"}"
echo "bundled libraries:"
ls -1 "$libs" | sed 's/^/  /'
# Everything the module links that is not part of the base system must come from the wheel.
if ldd "$core" | grep -E 'lib(crypto|ssl|simdjson)' | grep -v 'tokenward.libs'; then
  echo "check-wheel: the module links a system copy of the libraries above" >&2
  exit 1
fi
key="$("$work/venv/bin/tokenward" keygen ES256)"
token="$("$work/venv/bin/python" -c 'import sys, tokenward as tw
k = tw.JWK.from_json(sys.argv[1]); print(tw.encode({"sub": "wheel"}, k))' "$key")"
inspected="$("$work/venv/bin/tokenward" inspect --json "$token")"
case "$inspected" in *'"unverified": true'*) ;; *) echo "check-wheel: inspect failed" >&2; exit 1 ;; esac
echo "check-wheel: ok ($(basename "$wheel"))"
