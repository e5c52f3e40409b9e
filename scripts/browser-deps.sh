#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver from Debian, when missing, for the browser test
# of /docs (tests/test_fastapi_docs_browser.py). Separate from system-deps.sh so that `make demo`
# and a plain build never pull a browser; `make test` runs it (or `bash scripts/browser-deps.sh`).
# Without root and without the packages it says so and exits 0: that test then skips.
set -euo pipefail
need=()
for pkg in chromium chromium-driver; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "browser test needs Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]});" \
    "without them it skips" >&2
  exit 0
fi
echo "installing Debian packages for the browser test: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
