"""End to end: examples/authz.py (strategies, roles, scopes) under a real uvicorn process on a
loopback port, over HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from _uvicorn_support import serve
from test_fastapi_uvicorn import EMAIL, PASSWORD

SECRET = "e2e-authz-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
BOT_PASSWORD = "bot-pässword-42"
ROLES = {"viewer": ["users.read"], "member": ["users.read", "users.write"], "admin": []}
SCOPES = {"users.read": "List users", "users.write": "Change users", "admin.audit": "Audit log"}


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("uvicorn-authz")
    settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_ROLES": json.dumps(ROLES),
        "TOKENWARD_SCOPES": json.dumps(SCOPES),
        "TOKENWARD_DEFAULT_ROLE": "viewer",
        "TOKENWARD_SUPER_ADMIN_ROLE": "admin",
        "TOKENWARD_DEBUG_GROUPS": "member",
        "EXAMPLE_BOT_PASSWORD": BOT_PASSWORD,
    }
    with serve("authz:app", settings, workdir=tmp) as server:
        yield server.base_url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def bot(password: str = BOT_PASSWORD) -> dict[str, str]:
    raw = f"build-bot:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def test_roles_scopes_and_strategies_over_http(http: httpx.Client) -> None:
    tokens = http.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}).json()
    member = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert http.get("/v1/users", headers=member).json()["scopes"] == ["users.read", "users.write"]
    assert http.post("/v1/users", headers=member).status_code == 200
    audit = http.get("/v1/audit", headers=member)
    assert audit.status_code == 403 and 'scope="admin.audit"' in audit.headers["www-authenticate"]
    # HTTP Basic (UTF-8 password) on the route that takes either credential
    assert http.get("/v1/builds", headers=bot()).json()["via"] == "basic"
    assert http.get("/v1/builds", headers=member).json()["via"] == "access_token"
    wrong = http.get("/v1/builds", headers=bot("nope"))
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer, Basic realm="tokenward", charset="UTF-8"'
    # the default strategies (jwt) do not take Basic
    assert http.get("/v1/users", headers=bot()).status_code == 401
    # a router-level dependency, and a route made public under it
    assert http.get("/v1/internal/metrics").status_code == 401
    assert http.get("/v1/internal/metrics", headers=member).status_code == 200
    assert http.get("/v1/internal/status").json() == {"status": "green"}


def test_openapi_lists_the_scopes(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    flow = doc["components"]["securitySchemes"]["tokenward"]["flows"]["password"]
    assert flow["scopes"] == SCOPES
    assert doc["paths"]["/v1/audit"]["get"]["security"] == [{"tokenward": ["admin.audit"]}]
    assert {"401", "403"} <= set(doc["paths"]["/v1/builds"]["get"]["responses"])
    assert {} in doc["paths"]["/v1/internal/status"]["get"]["security"]
