"""Never a 500: whatever a client sends to the auth endpoints or as a bearer token."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenward as tw
from _fastapi_support import (
    EMAIL,
    PASSWORD,
    TestClient,
    bearer,
    login,
    make_app,
    store_factory,
)
from _uvicorn_support import serve

ENDPOINTS = ["/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout"]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app, _ = make_app()
    with TestClient(app) as c:
        yield c


def ok_status(code: int) -> bool:
    return code < 500


# --- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b"", 400),
        ("application/json", b"not json", 400),
        ("application/json", b"[]", 400),
        ("application/json", b'"a string"', 400),
        ("application/json", b"null", 400),
        ("application/json", b"1e999999", 422),  # no double holds it (item 10)
        ("application/json", b"{", 400),
        ("application/json", b"\xff\xfe\x00", 400),
        ("application/json", b"[" * 8000 + b"]" * 8000, 400),
        ("application/json", b'{"email": 1, "password": [], "refresh_token": {}}', 422),
        ("application/json", b'{"email": null, "password": null, "refresh_token": null}', 422),
        ("application/json", b"{}", 422),
        ("application/x-www-form-urlencoded", b"", 422),
        ("application/x-www-form-urlencoded", b"%%%&&&===", 422),
        ("application/x-www-form-urlencoded", b"a=1&" * 100, 400),
        ("application/x-www-form-urlencoded", b"\xff=\xfe", 400),
        ("multipart/form-data; boundary=x", b"--x\r\n\r\n--x--", 415),
        ("text/plain", b"hello", 415),
        ("application/xml", b"<a/>", 415),
    ],
)
def test_bad_bodies(
    client: TestClient, path: str, content_type: str, body: bytes, expected: int
) -> None:
    response = client.post(path, content=body, headers={"content-type": content_type})
    assert response.status_code == expected, response.text
    assert isinstance(response.json()["detail"], str | list)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversized_body_is_413(client: TestClient, path: str) -> None:
    body = b'{"email": "' + b"a" * 100_000 + b'"}'
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversized_streamed_body_is_413(client: TestClient, path: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    response = client.post(path, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_bad_content_length_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/auth/login",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "-1"},
    )
    assert ok_status(response.status_code)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_overlong_fields_are_422_without_echo(client: TestClient, path: str) -> None:
    secret_like = "p" * 2000
    body = {"email": EMAIL, "password": secret_like, "refresh_token": secret_like}
    response = client.post(path, json=body)
    assert response.status_code == 422
    assert secret_like not in response.text


def test_validation_errors_never_echo_the_password(client: TestClient) -> None:
    response = client.post("/v1/auth/login", json={"password": "hunter2-secret"})
    assert response.status_code == 422
    assert "hunter2-secret" not in response.text


def test_wrong_methods(client: TestClient) -> None:
    assert client.get("/v1/auth/login").status_code == 405
    assert client.post("/v1/auth/me").status_code == 405


def test_unicode_credentials(client: TestClient) -> None:
    for email, password in [("ü@example.com", "pässwörd"), (EMAIL, "\ud800"), ("\x00", "\x00")]:
        response = client.post(
            "/v1/auth/login",
            content=f'{{"email": "{email}", "password": "{password}"}}'.encode(
                "utf-8", "surrogatepass"
            ),
            headers={"content-type": "application/json"},
        )
        assert response.status_code in (400, 401), (email, response.text)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(ENDPOINTS),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "", "text/plain"]
    ),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["email", "password", "refresh_token", "scope", "x"]),
                    children,
                    max_size=5,
                )
            ),
            max_leaves=10,
        ).map(lambda v: repr(v).replace("'", '"').encode()),
    ),
)
def test_fuzzed_bodies_never_500(
    client: TestClient, path: str, content_type: str, body: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert ok_status(response.status_code), (response.status_code, response.text)


# --- bearer tokens --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"Bearer",
        b"Bearer    ",
        b"Bearer \xff\xfe",
        b"Bearer \xc3\xa9",
        b"Bearer a b c",
        b"Bearer ....",
        b"Bearer e30.e30.e30",
        b"Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.",
        b"Bearer " + b"e" * 70_000,
        b"Bearer " + b"a." * 5000,
        b"Digest foo",
        b"Bearer\tabc",
        b"   ",
    ],
)
@pytest.mark.parametrize("path", ["/sync", "/async", "/optional", "/reports", "/root"])
def test_garbage_authorization_headers(client: TestClient, value: bytes, path: str) -> None:
    response = client.get(path, headers={"Authorization": value})
    if path == "/optional" and response.status_code == 200:
        assert response.json() == {"sub": None}
        return
    assert response.status_code == 401, (value[:40], response.text)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.binary(max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_fuzzed_tokens_never_500(client: TestClient, token: bytes) -> None:
    response = client.get("/sync", headers={"Authorization": b"Bearer " + token})
    assert response.status_code == 401


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_real_tokens_are_401(client: TestClient, data: Any) -> None:
    token = _good_token(client)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.=+/ "))
    mutated = token[:index] + replacement + token[index + 1 :]
    response = client.get("/sync", headers=bearer(mutated))
    if mutated == token:
        assert response.status_code == 200
    else:
        assert response.status_code == 401


_TOKEN: dict[str, str] = {}


def _good_token(client: TestClient) -> str:
    if "access" not in _TOKEN:
        _TOKEN["access"] = login(client, EMAIL, PASSWORD)["access_token"]
    return _TOKEN["access"]


# --- values JSON cannot carry, on every tokenward route -------------------------------------------

# Each bad value in raw JSON text, and what of it must never come back in an answer.
BAD_VALUES = {
    "nan": ("NaN", "NaN"),
    "huge": ("1e999", "1e999"),
    "minus-infinity": ("-Infinity", "Infinity"),
    "surrogate-value": ('"\\ud800"', "ud800"),
    "surrogate-name": ('"\\ud800"', "ud800"),
}
# A body each route would take, the bad value going in place of its first field's value (or as a
# field name): only the bad value is wrong with it.
GOOD_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/auth/login"): {"email": EMAIL, "password": PASSWORD},
    ("POST", "/v1/auth/refresh"): {"refresh_token": "twr_unknown"},
    ("POST", "/v1/auth/logout"): {"refresh_token": "twr_unknown"},
    ("POST", "/v1/api-keys"): {"expires_in": 3600, "name": "ci"},
    ("POST", "/v1/auth/verify-email"): {"token": "twv_unknown"},
    ("POST", "/v1/auth/forgot-password"): {"email": EMAIL},
    ("POST", "/v1/auth/reset-password"): {"token": "twr_unknown", "password": PASSWORD},
    ("POST", "/v1/auth/change-password"): {"current_password": PASSWORD, "new_password": "x"},
    ("POST", "/v1/auth/passkeys/register"): {"name": "n", "credential": {}},
    ("PATCH", "/v1/auth/passkeys/nobody-has-this-id"): {"name": "n"},
    ("POST", "/v1/auth/passkeys/authenticate"): {"credential": {}},
    ("POST", "/v1/auth/mfa/totp/confirm"): {"code": "123456"},
    ("DELETE", "/v1/auth/mfa/totp"): {"code": "123456"},
    ("POST", "/v1/auth/mfa/challenge"): {"mfa_token": "twm_unknown", "code": "123456"},
    ("POST", "/v1/auth/mfa/step-up"): {"code": "123456"},
}


def bad_body(route: tuple[str, str], kind: str) -> bytes:
    fields = dict(GOOD_BODIES.get(route, {"x": 1}))
    raw, _ = BAD_VALUES[kind]
    if kind == "surrogate-name":
        fields["@@"] = 1
    else:
        fields[next(iter(fields))] = "@@"
    return json.dumps(fields).replace('"@@"', raw).encode()


@pytest.fixture(scope="module")
def every_route(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """An app with the auth, API-key and JWKS routers (ES256 tokens), and an access token."""
    keys = tmp_path_factory.mktemp("keys") / "signing-keys.json"
    tw.KeyRing.generate("ES256").save(keys)
    app, auth = make_app(token_algorithm="ES256", signing_key_file=str(keys))
    app.include_router(auth.api_keys_router)
    app.include_router(auth.jwks_router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c, login(c)["access_token"]


def tokenward_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the three routers hold, a path parameter filled in."""
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "signing-keys.json"
        tw.KeyRing.generate("ES256").save(keys)
        _, auth = make_app(token_algorithm="ES256", signing_key_file=str(keys))
    found = []
    for router in (auth.router, auth.api_keys_router, auth.jwks_router):
        for route in router.routes:
            path = re.sub(r"\{[^}]+\}", "nobody-has-this-id", route.path)
            found += [(method, path) for method in sorted(route.methods)]
    return found


ROUTES = tokenward_routes()


@pytest.mark.parametrize("kind", list(BAD_VALUES))
@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_values_json_cannot_carry_are_422_on_every_route(
    every_route: tuple[TestClient, str], route: tuple[str, str], kind: str
) -> None:
    """Issue 20 item 10: NaN, 1e999, -Infinity and a lone surrogate (a value or a field name) in a
    JSON body are a 422 with no-store that does not echo the value, on every route that reads a
    body; never a 500. A route that reads no body ignores it (the same answer as without it)."""
    client, token = every_route
    method, path = route
    headers = {**bearer(token), "content-type": "application/json"}
    response = client.request(method, path, content=bad_body(route, kind), headers=headers)
    _, echo = BAD_VALUES[kind]
    assert response.status_code != 500, response.text
    assert echo not in response.text and "\ufffd" not in response.text, response.text
    if route in GOOD_BODIES:
        assert response.status_code == 422, response.text
        assert response.headers.get("cache-control") == "no-store", response.headers
        assert response.json()["detail"][0]["type"] == "json_invalid"
    else:
        plain = client.request(method, path, headers=bearer(token))
        assert response.status_code == plain.status_code, response.text
        assert response.headers.get("cache-control") == plain.headers.get("cache-control")


def test_values_json_cannot_carry_are_422_under_uvicorn(tmp_path: Path) -> None:
    """Issue 20 item 10: the same bodies against examples/app.py under a real uvicorn (ES256, so
    that it serves the JWKS too): never a 500, a 422 with no-store where a body is read, nothing
    of the value echoed, no traceback in the server's log (``serve`` checks)."""
    settings = {
        "TOKENWARD_AUTH_SECRET": "uvicorn-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp_path / 'strict.db'}",
        "TOKENWARD_TOKEN_ALGORITHM": "ES256",
    }
    with serve("app:app", settings, workdir=tmp_path) as server:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            token = login(http)["access_token"]
            headers = {**bearer(token), "content-type": "application/json"}
            for route in ROUTES:
                method, path = route
                for kind, (_, echo) in BAD_VALUES.items():
                    response = http.request(
                        method, path, content=bad_body(route, kind), headers=headers
                    )
                    assert response.status_code != 500, (route, kind, response.text)
                    assert echo not in response.text, (route, kind, response.text)
                    if route in GOOD_BODIES:
                        assert response.status_code == 422, (route, kind, response.text)
                        assert response.headers["cache-control"] == "no-store"


# --- strings no store can hold ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_nul_in_ids_and_scopes_is_the_same_4xx_on_both_stores(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    """Issue 20 item 11: a NUL in a session id or an API-key id (a path parameter) is a 404 (no
    id holds one), in a login's scope or a key's scopes a 422, on SQLite and PostgreSQL alike;
    never a 503. So is a lone surrogate in a body; the answers carry no-store."""
    url = request.getfixturevalue("pg_url") if kind == "postgres" else None
    app, auth = make_app(store=store_factory(kind, tmp_path, url)())
    app.include_router(auth.api_keys_router)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        nul_scope = {"email": EMAIL, "password": PASSWORD, "scope": "reports:read\x00"}
        answers = {
            "session id": client.delete("/v1/auth/sessions/a%00b", headers=bearer(token)),
            "key id": client.delete("/v1/api-keys/ak_%00", headers=bearer(token)),
            "login scope": client.post("/v1/auth/login", json=nul_scope),
            "login scope (form)": client.post(
                "/v1/auth/login",
                data={"username": EMAIL, "password": PASSWORD, "scope": "reports:read\x00"},
            ),
            "key scope": client.post(
                "/v1/api-keys", json={"name": "ci", "scopes": ["a\x00"]}, headers=bearer(token)
            ),
            "key name": client.post("/v1/api-keys", json={"name": "c\x00i"}, headers=bearer(token)),
        }
        codes = {what: r.status_code for what, r in answers.items()}
        assert codes == {
            "session id": 404,
            "key id": 404,
            "login scope": 422,
            "login scope (form)": 422,
            "key scope": 422,
            "key name": 422,
        }, {what: r.text for what, r in answers.items()}
        for response in answers.values():
            assert response.headers.get("cache-control") == "no-store"
            assert "\\u0000" not in response.text
        # the store still works
        assert client.get("/v1/auth/sessions", headers=bearer(token)).status_code == 200
