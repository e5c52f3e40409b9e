"""The dependencies on WebSocket routes: credentials from the handshake's Authorization header
(or, when WEBSOCKET_TOKEN_QUERY allows it, a query parameter); a refused handshake is closed
with 1008. In process through Starlette's TestClient, then under a real uvicorn with a real
WebSocket client (websocket-client)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websocket  # websocket-client
from fastapi import HTTPException
from starlette.websockets import WebSocketDisconnect
from tests._fastapi_support import EMAIL, PASSWORD, Clock, TestClient, bearer, login, make_app
from tests._websocket_app import PATHS, add_websocket_routes

from _uvicorn_support import Server, serve
from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import AuthSettings, errors

HERE = Path(__file__).resolve().parent
POLICY_VIOLATION = 1008


@contextlib.contextmanager
def running(**overrides: Any) -> Iterator[TestClient]:
    app, auth = make_app(clock=Clock(), **overrides)
    app.include_router(auth.api_keys_router)
    add_websocket_routes(app)
    with TestClient(app) as client:
        yield client


def greeted(client: TestClient, path: str, headers: dict[str, str] | None = None) -> Any:
    """What the route said after an accepted handshake."""
    with client.websocket_connect(path, headers=headers or {}) as ws:
        said = ws.receive_json()
        ws.send_text("bye")
    return said


def refused(client: TestClient, path: str, headers: dict[str, str] | None = None) -> Any:
    """The close of a refused handshake (the test fails if the route ran)."""
    with client.websocket_connect(path, headers=headers or {}) as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value


def test_dependencies_accept_a_good_token_on_websocket_routes() -> None:
    """Issue 20 item 15: Depends(require_current_user), require_groups, Security(scopes=) and
    authenticate(...) work on a WebSocket route (they crashed the handshake with a TypeError)."""
    with running() as client:
        token = login(client)["access_token"]
        sub = greeted(client, PATHS["user"], bearer(token))["sub"]
        assert sub
        for name in ("root", "reports", "any"):
            assert greeted(client, PATHS[name], bearer(token)) == {"sub": sub}
        assert greeted(client, PATHS["optional"], bearer(token)) == {"sub": sub}
        assert greeted(client, PATHS["optional"]) == {"sub": None}


@pytest.mark.parametrize(
    ("path", "headers", "reason"),
    [
        (PATHS["user"], None, "Not signed in"),
        (PATHS["user"], {"Authorization": "Bearer not-a-token"}, ""),
        (PATHS["any"], None, "Not signed in"),
        (PATHS["optional"], {"Authorization": "Bearer not-a-token"}, ""),
        (PATHS["user"], {"Authorization": "Basic dXNlcjpwYXNz"}, "Not signed in"),
    ],
)
def test_a_handshake_without_valid_credentials_closes_with_1008(
    path: str, headers: dict[str, str] | None, reason: str
) -> None:
    """Issue 20 item 15: no credentials or bad ones close the handshake with 1008 (policy
    violation) and a reason, never an exception."""
    with running() as client:
        closed = refused(client, path, headers)
        assert closed.code == POLICY_VIOLATION
        assert closed.reason.startswith(reason)
        assert closed.reason


def test_a_handshake_missing_a_group_or_scope_closes_with_1008() -> None:
    """Issue 20 item 15: a missing group or scope closes the handshake with 1008."""
    with running() as client:
        token = login(client)["access_token"]
        closed = refused(client, PATHS["auditor"], bearer(token))
        assert closed.code == POLICY_VIOLATION
        assert "auditor" in closed.reason
        closed = refused(client, PATHS["admin_reports"], bearer(token))
        assert closed.code == POLICY_VIOLATION
        assert "reports:write" in closed.reason


def test_an_api_key_opens_a_websocket_through_its_header() -> None:
    with running() as client:
        token = login(client)["access_token"]
        made = client.post("/v1/api-keys", json={"name": "ws"}, headers=bearer(token))
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        assert greeted(client, PATHS["any"], bearer(key))["sub"]


def test_a_query_token_counts_only_when_the_setting_names_the_parameter() -> None:
    """Issue 20 item 15: a token in the query is refused (1008) unless WEBSOCKET_TOKEN_QUERY
    names its parameter."""
    with running() as client:
        token = login(client)["access_token"]
        closed = refused(client, f"{PATHS['user']}?access_token={token}")
        assert closed.code == POLICY_VIOLATION
    with running(websocket_token_query="access_token") as client:
        token = login(client)["access_token"]
        sub = greeted(client, f"{PATHS['user']}?access_token={token}")["sub"]
        assert sub
        assert greeted(client, f"{PATHS['root']}?access_token={token}") == {"sub": sub}
        # another parameter, a repeated one, an empty one: refused
        for query in (
            f"token={token}",
            f"access_token={token}&access_token={token}",
            "access_token=",
        ):
            assert refused(client, f"{PATHS['user']}?{query}").code == POLICY_VIOLATION
        assert refused(client, f"{PATHS['user']}?access_token=junk").code == POLICY_VIOLATION
        # the header, when sent, is what counts
        closed = refused(
            client, f"{PATHS['user']}?access_token={token}", {"Authorization": "Bearer junk"}
        )
        assert closed.code == POLICY_VIOLATION
        # an API key never counts in a URL
        made = client.post("/v1/api-keys", json={"name": "ws"}, headers=bearer(token)).json()
        assert refused(client, f"{PATHS['any']}?access_token={made['key']}").code == 1008
        # plain HTTP requests never read the query
        assert client.get(f"/async?access_token={token}").status_code == 401


def test_the_query_parameter_setting_is_checked() -> None:
    assert AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_").websocket_token_query is None
    named = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_", websocket_token_query="access_token"
    )
    assert named.websocket_token_query == "access_token"
    with pytest.raises((ConfigurationError, ValueError)):
        AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", websocket_token_query="a&b=")


def test_a_websocket_close_carries_the_answer() -> None:
    unavailable = errors.to_websocket(errors.unavailable("The session store"))
    assert unavailable.code == 1013  # try again later
    long = errors.to_websocket(HTTPException(401, detail="é" * 200))
    assert long.code == POLICY_VIOLATION
    assert len(long.reason.encode()) <= 123
    assert long.reason == "é" * 61


# --- under a real uvicorn ------------------------------------------------------------------------

SECRET = "ws-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


def connect(server: Server, path: str, token: str | None = None) -> tuple[int, str, Any]:
    """A real WebSocket handshake: (the close code, its reason, what the route said first) —
    the close code 1000 when the route greeted and the client said bye."""
    url = server.base_url.replace("http://", "ws://") + path
    headers = [f"Authorization: Bearer {token}"] if token else []
    ws = websocket.create_connection(url, header=headers, timeout=10)
    said = None
    try:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            said = json.loads(data)
            ws.send("bye")
            opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        return int.from_bytes(data[:2], "big"), data[2:].decode(), said
    finally:
        ws.close()
        ws.shutdown()  # the socket itself, whoever closed the connection first


@pytest.mark.parametrize("query", [None, "access_token"])
def test_websocket_routes_under_uvicorn(tmp_path: Path, query: str | None) -> None:
    """Issue 20 item 15: under a real uvicorn, a real client is let in with a good token, and
    closed with 1008 with none, a bad one, a missing group or scope, or a query token when the
    setting does not allow it; uvicorn logs no traceback."""
    settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp_path / 'ws.db'}",
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
    }
    if query:
        settings["TOKENWARD_WEBSOCKET_TOKEN_QUERY"] = query
    with serve("_websocket_app:app", settings, workdir=tmp_path, app_dir=HERE) as server:
        pair = httpx.post(
            server.base_url + "/v1/auth/login",
            json={"email": EMAIL, "password": PASSWORD},
            timeout=10,
        )
        assert pair.status_code == 200, pair.text
        token = pair.json()["access_token"]
        code, _, said = connect(server, PATHS["user"], token)
        assert (code, bool(said["sub"])) == (1000, True)
        assert connect(server, PATHS["reports"], token)[0] == 1000
        for path, sent in [
            (PATHS["user"], None),
            (PATHS["user"], "not-a-token"),
            (PATHS["auditor"], token),
            (PATHS["admin_reports"], token),
        ]:
            code, reason, said = connect(server, path, sent)
            assert (code, said) == (POLICY_VIOLATION, None), (path, reason)
            assert reason
        code, reason, said = connect(server, f"{PATHS['user']}?access_token={token}")
        if query:
            assert code == 1000 and said["sub"]
        else:
            assert (code, said) == (POLICY_VIOLATION, None)
            assert reason.startswith("Not signed in")
