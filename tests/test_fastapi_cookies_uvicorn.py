"""Cookie sessions and the CSRF rule over real uvicorn (examples/app.py, COOKIE_SESSIONS=true),
with httpx as the client: the Set-Cookie headers as they leave the server, each CSRF refusal,
refresh and logout through the cookies, and bearer requests untouched.
tests/test_fastapi_cookies_browser.py does the same from a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _uvicorn_support import HOST, free_port, serve

EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"
CSRF = {"X-Tokenward-CSRF": "1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("cookies-uvicorn")
    port = free_port()
    settings = {
        "TOKENWARD_AUTH_SECRET": "uvicorn-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'cookies.db'}",
        "TOKENWARD_COOKIE_SESSIONS": "true",
        "TOKENWARD_ALLOWED_ORIGINS": f"http://{HOST}:{port}",
        "TOKENWARD_API_KEY_HEADER": "true",
    }
    with serve("app:app", settings, workdir=tmp, port=port) as server:
        yield server.base_url


def test_cookie_session_over_uvicorn(site: str) -> None:
    origin = {"Origin": site}
    with httpx.Client(base_url=site) as client:
        response = client.post(
            "/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, headers=origin
        )
        assert response.status_code == 200, response.text
        access, refresh = response.headers.get_list("set-cookie")
        token = client.cookies["tw_access"]
        assert access == f"tw_access={token}; Max-Age=900; Path=/; HttpOnly; SameSite=Lax"
        assert refresh == (
            f"tw_refresh={client.cookies['tw_refresh']}; Max-Age=604800; Path=/v1/auth; "
            "HttpOnly; SameSite=Lax"
        )
        assert client.get("/v1/projects").status_code == 200

        deploy = "/v1/projects/apollo/deploy"
        refused = client.post(deploy)
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "Cross-site request refused: it needs an Origin (or Referer) header and "
            "the header X-Tokenward-CSRF: 1."
        }
        other = client.post(deploy, headers={"Origin": "http://127.0.0.1:1", **CSRF})
        assert other.json()["detail"].endswith(
            "it needs an Origin listed in TOKENWARD_ALLOWED_ORIGINS."
        )
        assert client.get("/v1/projects/apollo").json()["deployed"] is False
        assert client.post(deploy, headers={**origin, **CSRF}).json()["deployed"] is True

        refreshed = client.post("/v1/auth/refresh", headers={**origin, **CSRF})
        assert refreshed.status_code == 200, refreshed.text
        assert client.cookies["tw_access"] != token

        # Bearer and X-API-Key requests need no CSRF pieces, cookies or not.
        key = client.post(
            "/v1/api-keys",
            json={"name": "ops", "groups": ["root"]},
            headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"},
        ).json()["key"]
        with httpx.Client(base_url=site) as bare:
            for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
                assert bare.delete("/v1/projects/gemini", headers=headers).status_code == 200

        out = client.post("/v1/auth/logout", headers={**origin, **CSRF})
        assert out.status_code == 204
        assert "tw_access" not in client.cookies and "tw_refresh" not in client.cookies
        assert client.get("/v1/projects").status_code == 401
