"""The secure defaults, seen from outside: where the debug login may start, what the start-up
warning says, and what OpenAPI tells a client about each route's answers and sign-in."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from tests._fastapi_support import EMAIL, PASSWORD, SECRET, TestClient, make_app

from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    authenticate,
    require_current_user,
)


def build(prefix: str = "TOKENWARD_TEST_ISOLATED_", **values: Any) -> Auth:
    return Auth(AuthSettings.from_env(prefix=prefix, auth_secret=SECRET, **values))


@pytest.mark.parametrize(
    "environment", ["development", "dev", "local", "test", "testing", " Dev ", "LOCAL"]
)
def test_the_debug_login_starts_in_an_explicit_development(environment: str) -> None:
    auth = build(environment=environment)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        response = client.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        assert response.status_code == 200


@pytest.mark.parametrize("environment", ["production", "staging", "qa", "", "develop", "devel"])
def test_any_other_environment_refuses_custom_auth(environment: str) -> None:
    with pytest.raises(ConfigurationError, match="ALLOW_CUSTOM_AUTH_IN_PRODUCTION"):
        build(environment=environment)


def test_the_start_up_warning_says_development_is_the_default(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        build(prefix="VEGA_")
    [warning] = [r.getMessage() for r in caplog.records if "debug login" in r.getMessage()]
    assert "VEGA_ENVIRONMENT='development'" in warning
    assert "the default" in warning
    assert "VEGA_ENVIRONMENT=production" in warning


def test_the_start_up_warning_of_an_explicit_development(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        build(prefix="VEGA_", environment="local")
    [warning] = [r.getMessage() for r in caplog.records if "debug login" in r.getMessage()]
    assert "VEGA_ENVIRONMENT='local' names development." in warning
    assert "the default" not in warning


def openapi(**overrides: Any) -> dict[str, Any]:
    app, auth = make_app(**overrides)
    app.include_router(auth.api_keys_router)
    with TestClient(app) as client:
        doc: dict[str, Any] = client.get("/openapi.json").json()
    return doc


def test_every_protected_route_documents_401_403_and_503() -> None:
    paths = openapi()["paths"]
    protected = [
        ("/sync", "get"),
        ("/async", "get"),
        ("/operator", "get"),
        ("/reports", "get"),
        ("/v1/auth/me", "get"),
        ("/v1/auth/sessions", "get"),
        ("/v1/auth/sessions", "delete"),
        ("/v1/auth/sessions/{session_id}", "delete"),
        ("/v1/api-keys", "get"),
        ("/v1/api-keys", "post"),
    ]
    for path, method in protected:
        responses = paths[path][method]["responses"]
        assert {"401", "403", "503"} <= set(responses), (path, method, sorted(responses))
    assert "429" in paths["/v1/auth/login"]["post"]["responses"]
    assert "429" in paths["/v1/auth/refresh"]["post"]["responses"]
    assert "404" in paths["/v1/auth/sessions/{session_id}"]["delete"]["responses"]
    assert "401" not in paths["/public"]["get"]["responses"]


def test_an_optional_route_shows_that_auth_is_optional() -> None:
    paths = openapi()["paths"]
    security = paths["/optional"]["get"]["security"]
    assert {} in security
    assert {"tokenward": []} in security
    assert {} not in paths["/sync"]["get"]["security"]


def test_the_authorize_dialog_names_the_apps_own_variables() -> None:
    auth = build(prefix="VEGA_")
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
    text = doc["components"]["securitySchemes"]["tokenward"]["description"]
    assert "VEGA_DEBUG_EMAIL" in text
    assert "VEGA_DEBUG_PASSWORD" in text
    assert "TOKENWARD_" not in text


def test_routes_of_included_routers_count_too() -> None:
    app, auth = make_app()
    inner = APIRouter(dependencies=[Depends(require_current_user)])

    @inner.get("/things")
    def things() -> dict[str, str]:
        return {"ok": "yes"}

    outer = APIRouter(prefix="/v2")
    outer.include_router(inner, prefix="/inner")
    app.include_router(outer)
    report = {(r.path, r.methods): r.protection for r in auth.route_report(app)}
    assert report[("/v2/inner/things", ("GET",))] == "protected"
    with TestClient(app) as client:
        doc = client.get("/openapi.json").json()
        assert client.get("/v2/inner/things").status_code == 401
    assert {"401", "403", "503"} <= set(doc["paths"]["/v2/inner/things"]["get"]["responses"])


def test_a_router_route_needing_a_missing_strategy_fails_start_up() -> None:
    app, auth = make_app()
    router = APIRouter(prefix="/legacy")

    @router.get("/report")
    def report(user: Annotated[CurrentUser, Depends(authenticate("basic"))]) -> dict[str, str]:
        return {"sub": user.sub}

    app.include_router(router)
    with pytest.raises(ConfigurationError, match="/legacy/report"):
        auth.install(app)
