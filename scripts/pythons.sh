#!/usr/bin/env bash
# Finds the CPython interpreters tokenward supports (3.11, 3.12, 3.13; TOKENWARD_PYTHONS to choose
# others) and prints one line per version: "VERSION PATH", or "VERSION -" when none is present.
# Where it looks, in order: TOKENWARD_PYTHON_3_12 (etc.) if set; `python3.12` on PATH, kept only
# if it runs and reports that version (a pyenv shim for a version not selected fails); then
# $(pyenv root)/versions/3.12.*/bin/python3, the newest patch release first.
#   bash scripts/pythons.sh            # all three
#   bash scripts/pythons.sh 3.12       # one
set -euo pipefail
versions=("$@")
if [ "${#versions[@]}" -eq 0 ]; then
  read -r -a versions <<< "${TOKENWARD_PYTHONS:-3.11 3.12 3.13}"
fi

# True when "$1" runs and is CPython "$2" (major.minor).
is_version() {
  local got
  got="$("$1" -c 'import platform, sys
print(platform.python_implementation(), "%d.%d" % sys.version_info[:2])' 2>/dev/null)" || return 1
  [ "$got" = "CPython $2" ]
}

find_one() {
  local v="$1" var candidate root
  var="TOKENWARD_PYTHON_${v//./_}"
  if [ -n "${!var:-}" ]; then
    is_version "${!var}" "$v" && { echo "${!var}"; return; }
    echo "$var=${!var} is not a working CPython $v" >&2
  fi
  if candidate="$(command -v "python$v" 2>/dev/null)" && is_version "$candidate" "$v"; then
    echo "$candidate"
    return
  fi
  root="${PYENV_ROOT:-}"
  if [ -z "$root" ] && command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root 2>/dev/null || true)"
  fi
  [ -n "$root" ] || root="$HOME/.pyenv"
  if [ -d "$root/versions" ]; then
    # Newest patch release first: 3.12.10 before 3.12.9.
    while IFS= read -r name; do
      candidate="$root/versions/$name/bin/python3"
      if [ -x "$candidate" ] && is_version "$candidate" "$v"; then
        echo "$candidate"
        return
      fi
    done < <(find "$root/versions" -mindepth 1 -maxdepth 1 -name "$v.*" -printf '%f\n' | sort -rV)
  fi
  return 1
}

for v in "${versions[@]}"; do
  if path="$(find_one "$v")"; then
    echo "$v $path"
  else
    echo "$v -"
  fi
done
