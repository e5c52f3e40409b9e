"""API keys against examples/app.py under a real uvicorn process (SQLite store), over HTTP: what
a key may not do (sessions) and the groups it holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from _uvicorn_support import Server, serve

SECRET = "api-key e2e secret-0123456789-abcdefghijklmnop"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"
KEYS = "/v1/api-keys"
SESSIONS = "/v1/auth/sessions"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("uvicorn-keys")
    settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'keys.db'}",
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
    }
    with serve("app:app", settings, workdir=tmp) as running:
        yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def login(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def new_key(http: httpx.Client, token: str, **body: Any) -> dict[str, Any]:
    response = http.post(KEYS, json={"name": "ci", **body}, headers=bearer(token))
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


def test_an_api_key_cannot_list_or_end_sessions(http: httpx.Client) -> None:
    """Issue 20 item 4: GET/DELETE /v1/auth/sessions and DELETE /v1/auth/sessions/{id} refuse
    an API key (with no scopes, and with scopes) with 403, as the key routes do: it can neither
    read its owner's addresses nor sign its owner out."""
    tokens = login(http)
    owner = bearer(tokens["access_token"])
    sessions = http.get(SESSIONS, headers=owner).json()
    mine = next(s["id"] for s in sessions if s["current"])
    for made in (
        new_key(http, tokens["access_token"]),
        new_key(http, tokens["access_token"], scopes=["reports:read"]),
    ):
        key = bearer(made["key"])
        assert http.get("/v1/auth/me", headers=key).status_code == 200  # the key itself works
        for response in (
            http.get(SESSIONS, headers=key),
            http.delete(SESSIONS, headers=key),
            http.delete(f"{SESSIONS}/{mine}", headers=key),
        ):
            assert response.status_code == 403, response.text
            assert response.headers["cache-control"] == "no-store"
            assert response.json() == {
                "detail": "An API key cannot manage sessions: sign in and use an access token."
            }
            assert "127.0.0.1" not in response.text
    # nothing was ended: the session is listed and its refresh token still works
    assert mine in {s["id"] for s in http.get(SESSIONS, headers=owner).json()}
    refreshed = http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text


def test_a_key_holds_only_the_groups_it_was_made_with(http: httpx.Client) -> None:
    """Issue 20 item 5: a key made without groups fails require_groups("root") on the example
    app's DELETE /v1/projects/{id} (403) although its owner is in root; a key made with the
    group root by that owner passes. The listing shows each key's groups."""
    token = login(http)["access_token"]
    assert http.get("/v1/auth/me", headers=bearer(token)).json()["groups"] == ["root", "operator"]
    plain = new_key(http, token, name="plain")
    reader = new_key(http, token, name="reader", scopes=["reports:read"])
    for made in (plain, reader):
        refused = http.delete("/v1/projects/apollo", headers=bearer(made["key"]))
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"detail": "This needs membership in one of the groups: root."}
        deploy = http.post("/v1/projects/apollo/deploy", headers=bearer(made["key"]))
        assert deploy.status_code == 403
        assert http.get("/v1/auth/me", headers=bearer(made["key"])).json()["groups"] == []
    assert http.get("/v1/reports", headers=bearer(reader["key"])).status_code == 200
    root = new_key(http, token, name="root", groups=["root"])
    deleted = http.delete("/v1/projects/apollo", headers=bearer(root["key"]))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] == "apollo"
    listed = {k["id"]: k["groups"] for k in http.get(KEYS, headers=bearer(token)).json()}
    assert (listed[plain["id"]], listed[reader["id"]], listed[root["id"]]) == ([], [], ["root"])
    beyond = http.post(KEYS, json={"name": "x", "groups": ["auditor"]}, headers=bearer(token))
    assert beyond.status_code == 403
    assert "auditor" in beyond.json()["detail"]
