"""Headless Chromium (Debian's) driven by Selenium, for the browser tests.

``CHROMIUM``/``CHROMEDRIVER`` are the installed binaries (None when absent; ``needs_chromium``
skips a module then, saying how to install them), ``chrome(profile)`` starts one browser with
its own profile directory (so two of them share no cookie; extra switches, host names and
capabilities when a test needs them), and ``run`` awaits a promise of the page. Only loopback
addresses resolve: every other host name is refused, so a test never reaches the network.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

WAIT = 60  # seconds; a generous bound for a loaded 2-core machine, not a timing assertion

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium is not installed: run `bash scripts/browser-deps.sh` as root "
    "(Debian packages chromium and chromium-driver)",
)


@contextlib.contextmanager
def chrome(
    profile: Path,
    *arguments: str,
    resolve: tuple[str, ...] = (),
    capabilities: dict[str, Any] | None = None,
) -> Iterator[WebDriver]:
    """A headless Chromium with its user data in ``profile`` (its driver's log there too).

    ``arguments`` are more command-line switches, ``resolve`` host names that resolve besides
    127.0.0.1 (``localhost`` for WebAuthn), ``capabilities`` set on its options."""
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    profile.mkdir(parents=True, exist_ok=True)
    # Every host but the loopback ones resolves to nothing: no CDN, no network can be reached.
    hosts = ", ".join(f"EXCLUDE {host}" for host in ("127.0.0.1", *resolve))
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--host-resolver-rules=MAP * ~NOTFOUND, {hosts}",
        f"--user-data-dir={profile}",
        *arguments,
    ):
        options.add_argument(argument)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER, log_output=str(profile / "driver.log")),
        options=options,
    )
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def run(driver: WebDriver, call: str, *args: Any) -> Any:
    """Await ``call`` (a promise-returning expression of the page, taking ``args``)."""
    script = (
        "const done = arguments[arguments.length - 1];"
        f"({call})(...Array.from(arguments).slice(0, -1))"
        ".then(done, e => done('error: ' + e));"
    )
    return driver.execute_async_script(script, *args)
