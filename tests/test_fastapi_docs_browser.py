"""/docs in a real browser: headless Chromium (Debian's) driven by Selenium, no network.

examples/app.py runs under uvicorn on a loopback port. Chromium resolves no host but 127.0.0.1,
so a page that still needed a CDN would stay blank and fail here. The flow is the newcomer's:
open /docs, Authorize with the debug user, "Try it out" on GET /v1/projects, see 200; then
ReDoc renders the same schema.

Chromium comes from ``scripts/browser-deps.sh`` (run by ``make test``); the test skips only
when it is not installed. ``TOKENWARD_DOCS_SCREENSHOTS=docs/img`` writes the screenshots that
docs/fastapi.md shows (they always go to the test's temporary directory as well).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from _browser_support import WAIT, chrome, needs_chromium
from _uvicorn_support import example_app

EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("docs-browser")
    settings = {
        "TOKENWARD_AUTH_SECRET": "browser-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'browser.db'}",
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
    }
    with example_app(tmp, settings) as url:
        yield url


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    logs = {"goog:loggingPrefs": {"browser": "ALL"}}  # the page's console, for the CSP check
    with chrome(profile, "--window-size=1280,900", capabilities=logs) as driver:
        yield driver


def screenshots(tmp_path: Path) -> list[Path]:
    places = [tmp_path]
    wanted = os.environ.get("TOKENWARD_DOCS_SCREENSHOTS")
    if wanted:
        places.append(Path(wanted))
    return places


def shoot(driver: WebDriver, name: str, places: list[Path]) -> None:
    for place in places:
        place.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(place / name))


def loaded_from(driver: WebDriver) -> list[str]:
    """Every resource the page fetched, by URL."""
    names: Any = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [str(n) for n in names]


def assert_all_from_the_app(driver: WebDriver, base_url: str) -> None:
    """Every resource came from the app, or was stopped by the page's policy before any request
    (ReDoc's sidebar always asks a CDN for its logo; the image then hides itself)."""
    outside = [r for r in loaded_from(driver) if not r.startswith(base_url + "/")]
    log = " ".join(str(entry.get("message", "")) for entry in driver.get_log("browser"))
    for url in outside:
        assert f"Loading the image '{url}' violates" in log, f"{url} was fetched: {log}"


def visible(driver: WebDriver, css: str) -> Any:
    return WebDriverWait(driver, WAIT).until(ec.element_to_be_clickable((By.CSS_SELECTOR, css)))


def test_swagger_authorize_and_try_it_out(
    browser: WebDriver, base_url: str, tmp_path: Path
) -> None:
    places = screenshots(tmp_path)
    browser.get(f"{base_url}/docs")
    authorize = visible(browser, "button.authorize")
    assert browser.title == "tokenward example - Swagger UI"
    resources = loaded_from(browser)
    assert any(r.endswith("/docs-assets/swagger-ui-bundle.js") for r in resources)
    assert any(r.endswith("/openapi.json") for r in resources)
    assert_all_from_the_app(browser, base_url)

    # Authorize: the OAuth2 password flow against POST /v1/auth/login.
    authorize.click()
    visible(browser, "#oauth_username").send_keys(EMAIL)
    visible(browser, "#oauth_password").send_keys(PASSWORD)
    shoot(browser, "docs-authorize.png", places)
    visible(browser, ".auth-btn-wrapper button.authorize").click()
    WebDriverWait(browser, WAIT).until(
        ec.presence_of_element_located(
            (By.XPATH, "//div[contains(@class,'auth-btn-wrapper')]//button[.='Logout']")
        )
    )
    assert "Authorized" in browser.find_element(By.CSS_SELECTOR, ".modal-ux").text
    visible(browser, "button.btn-done").click()

    # Try it out on a protected route: GET /v1/projects.
    operation = "#operations-projects-list_projects_v1_projects_get"
    visible(browser, f"{operation} .opblock-summary").click()
    visible(browser, f"{operation} button.try-out__btn").click()
    visible(browser, f"{operation} button.execute").click()
    status = WebDriverWait(browser, WAIT).until(
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, f"{operation} .live-responses-table .response .response-col_status")
        )
    )
    assert status.text.strip() == "200"
    body = browser.find_element(By.CSS_SELECTOR, f"{operation} .live-responses-table").text
    assert EMAIL in body and "apollo" in body
    curl = browser.find_element(By.CSS_SELECTOR, f"{operation} .curl-command").text
    assert "Authorization: Bearer ey" in curl
    browser.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'})",
        f"{operation} .responses-wrapper",
    )
    shoot(browser, "docs-try-it-out.png", places)
    assert_all_from_the_app(browser, base_url)


def test_protected_route_without_authorize_is_401(browser: WebDriver, base_url: str) -> None:
    browser.delete_all_cookies()
    browser.get(f"{base_url}/docs")
    browser.execute_script("window.localStorage.clear()")
    browser.refresh()
    operation = "#operations-projects-get_project_v1_projects__project_id__get"
    visible(browser, "button.authorize")
    visible(browser, f"{operation} .opblock-summary").click()
    visible(browser, f"{operation} button.try-out__btn").click()
    visible(browser, f"{operation} input[placeholder='project_id']").send_keys("apollo")
    visible(browser, f"{operation} button.execute").click()
    status = WebDriverWait(browser, WAIT).until(
        ec.visibility_of_element_located(
            (By.CSS_SELECTOR, f"{operation} .live-responses-table .response .response-col_status")
        )
    )
    assert status.text.strip().startswith("401")


def test_redoc_renders_offline(browser: WebDriver, base_url: str, tmp_path: Path) -> None:
    browser.get(f"{base_url}/redoc")
    WebDriverWait(browser, WAIT).until(
        ec.visibility_of_element_located((By.XPATH, "//h1[contains(., 'tokenward example')]"))
    )
    WebDriverWait(browser, WAIT).until(
        ec.visibility_of_element_located((By.XPATH, "//*[contains(text(), '/v1/projects')]"))
    )
    assert browser.title == "tokenward example - ReDoc"
    resources = loaded_from(browser)
    assert any(r.endswith("/docs-assets/redoc.standalone.js") for r in resources)
    assert any(r.endswith("/openapi.json") for r in resources)
    assert_all_from_the_app(browser, base_url)
    shoot(browser, "redoc.png", screenshots(tmp_path))
