"""End to end: examples/app.py under a real uvicorn process on a loopback port, over HTTP."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _uvicorn_support import Server, serve

SECRET = "e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"


def uvicorn_server(tmp: Path) -> contextlib.AbstractContextManager[Server]:
    """examples/app.py under uvicorn on a free loopback port, its output in ``Server.log``;
    stopped (gracefully: in-flight requests finish) when the block ends."""
    settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'e2e.db'}",
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
    }
    return serve("app:app", settings, workdir=tmp)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with uvicorn_server(tmp_path_factory.mktemp("uvicorn")) as running:
        yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def login(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_public_route(http: httpx.Client) -> None:
    assert http.get("/v1/health").json() == {"status": "ok"}
    assert http.get("/v1/hello").json() == {"message": "hello, guest"}


def test_login_and_protected_routes(http: httpx.Client) -> None:
    tokens = login(http)
    headers = auth(tokens["access_token"])
    me = http.get("/v1/auth/me", headers=headers).json()
    assert me["email"] == EMAIL
    assert me["groups"] == ["root", "operator"]
    assert http.get("/v1/hello", headers=headers).json() == {"message": f"hello, {EMAIL}"}
    assert http.get("/v1/projects", headers=headers).json()["projects"] == ["apollo", "gemini"]
    assert http.get("/v1/projects/apollo", headers=headers).json()["id"] == "apollo"
    assert http.post("/v1/projects/apollo/deploy", headers=headers).json()["deployed"] is True
    assert http.delete("/v1/projects/gemini", headers=headers).json()["deleted"] == "gemini"
    assert http.get("/v1/reports", headers=headers).json()["scopes"] == ["reports:read"]


def test_form_login_as_swagger_ui_sends_it(http: httpx.Client) -> None:
    response = http.post(
        "/v1/auth/login",
        data={"grant_type": "password", "username": EMAIL, "password": PASSWORD, "scope": ""},
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic Zm9vOmJhcg=="}],
)
def test_401s(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get("/v1/projects", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "/v1/auth/login" in response.json()["detail"]


def test_refresh_token_is_no_access_token(http: httpx.Client) -> None:
    tokens = login(http)
    response = http.get("/v1/projects", headers=auth(tokens["refresh_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_wrong_login(http: httpx.Client) -> None:
    a = http.post("/v1/auth/login", json={"email": EMAIL, "password": "nope"})
    b = http.post("/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_refresh_grace_reuse_and_logout(http: httpx.Client) -> None:
    first = login(http)
    a = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    b = http.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert a.status_code == b.status_code == 200
    assert a.json()["refresh_token"] == b.json()["refresh_token"]
    second = a.json()
    assert http.get("/v1/projects", headers=auth(second["access_token"])).status_code == 200
    logout = http.post("/v1/auth/logout", json={"refresh_token": second["refresh_token"]})
    assert logout.status_code == 204
    again = http.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert again.status_code == 401


def test_garbage_never_500(http: httpx.Client) -> None:
    for body in (b"", b"{", b"[]", b"\xff", b'{"email": 1}'):
        for path in ("/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout"):
            response = http.post(path, content=body, headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (path, body, response.text)
    response = http.get("/v1/projects", headers={"Authorization": "Bearer " + "x" * 60_000})
    assert response.status_code in (401, 431)


def test_openapi_and_docs(http: httpx.Client) -> None:
    doc = http.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["tokenward"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/v1/auth/login"
    assert doc["paths"]["/v1/reports"]["get"]["security"] == [{"tokenward": ["reports:read"]}]
    assert "swagger" in http.get("/docs").text.lower()


def half_a_body(
    port: int, path: str, *, declared: int = 200, sent: bytes = b'{"email": "de'
) -> None:
    """A raw request that announces ``declared`` body bytes, sends fewer, and hangs up."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("ascii") + sent)


def test_a_client_hanging_up_mid_body_leaves_no_traceback(tmp_path: Path) -> None:
    with uvicorn_server(tmp_path) as running, httpx.Client(base_url=running.base_url) as http:
        port = int(running.base_url.rsplit(":", 1)[1])
        for path in ("/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout") * 3:
            half_a_body(port, path)
        half_a_body(port, "/v1/auth/login", sent=b"")  # nothing of the body at all
        # the server is still well, and answers a whole request
        assert login(http)["token_type"] == "bearer"
    # uvicorn has stopped (it lets in-flight requests finish first): the log is complete
    text = running.log.read_text(errors="replace")
    assert "Application startup complete" in text, text
    assert "Exception in ASGI application" not in text, text
    assert "Traceback" not in text, text
