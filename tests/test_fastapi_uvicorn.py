"""End to end: examples/app.py under a real uvicorn process on a loopback port, over HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tokenward

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SECRET = "e2e-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    def __init__(self, base_url: str, log: Path) -> None:
        self.base_url = base_url
        self.log = log


@contextlib.contextmanager
def uvicorn_server(tmp: Path) -> Iterator[Server]:
    """examples/app.py under uvicorn on a free loopback port, its output in ``Server.log``;
    stopped (gracefully: in-flight requests finish) when the block ends."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TOKENWARD_")}
    env.update(
        {
            "TOKENWARD_AUTH_SECRET": SECRET,
            "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'e2e.db'}",
            "TOKENWARD_DEBUG_SCOPES": "reports:read",
            "PYTHONUNBUFFERED": "1",
            # the server imports the tokenward these tests import (a source tree first on the
            # path included), whatever the working directory
            "PYTHONPATH": os.pathsep.join(
                p
                for p in (str(Path(tokenward.__file__).resolve().parents[1]), env.get("PYTHONPATH"))
                if p
            ),
        }
    )
    log = tmp / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app:app",
                "--app-dir",
                str(EXAMPLES),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            cwd=tmp,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"uvicorn exited early:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{base_url}/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield Server(base_url, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with uvicorn_server(tmp_path_factory.mktemp("uvicorn")) as running:
        yield running
    text = running.log.read_text(errors="replace")
    assert "Traceback" not in text, text


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
