"""The /v1/api-keys routes and ``Bearer vk_…`` over HTTP (TestClient), with the custom provider
and with Cognito (moto's, real tokens)."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Security

from _fastapi_support import EMAIL, Clock, TestClient, bearer, login, make_app
from tokenward import ConfigurationError
from tokenward.apikeys import MAX_KEY_LIFETIME
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_current_user, require_groups
from tokenward.principal import Principal
from tokenward.stores.sqlite import SQLiteStore

NO_STORE = "no-store"
KEYS = "/v1/api-keys"


def check_no_store(response: Any) -> None:
    assert response.headers.get("cache-control") == NO_STORE, response.headers


def when(text: str | None) -> float | None:
    return None if text is None else _dt.datetime.fromisoformat(text).timestamp()


class Custom:
    """An app with the custom provider, the API-key routes and a settable clock."""

    def __init__(self, client: TestClient, auth: Auth, clock: Clock) -> None:
        self.client = client
        self.auth = auth
        self.clock = clock
        self.token = login(client)["access_token"]

    def create(self, token: str | None = None, **body: Any) -> Any:
        body.setdefault("name", "ci")
        return self.client.post(KEYS, json=body, headers=bearer(token or self.token))

    def new_key(self, **body: Any) -> dict[str, Any]:
        response = self.create(**body)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made


def custom_app(clock: Clock, **overrides: Any) -> tuple[FastAPI, Auth]:
    app, auth = make_app(clock=clock, **overrides)
    app.include_router(auth.api_keys_router)
    return app, auth


@pytest.fixture
def custom() -> Iterator[Custom]:
    clock = Clock()
    app, auth = custom_app(clock)
    with TestClient(app) as client:
        yield Custom(client, auth, clock)


# --- create ------------------------------------------------------------------------------------


def test_create_answers_201_with_the_key_once(custom: Custom) -> None:
    response = custom.create(name="deploy", scopes=["reports:read"], expires_in=3600)
    assert response.status_code == 201, response.text
    check_no_store(response)
    assert response.headers.get("pragma") == "no-cache"
    body = response.json()
    assert set(body) == {
        "key",
        "id",
        "name",
        "prefix",
        "scopes",
        "groups",
        "created_at",
        "expires_at",
    }
    assert body["key"].startswith("vk_") and body["key"].startswith(body["prefix"])
    assert body["id"].startswith("ak_")
    assert body["name"] == "deploy"
    assert body["scopes"] == ["reports:read"]
    assert when(body["created_at"]) == custom.clock.now
    assert when(body["expires_at"]) == custom.clock.now + 3600
    forever = custom.new_key(name="forever")
    assert forever["expires_at"] is None and forever["scopes"] == [] and forever["groups"] == []


def test_scopes_beyond_the_callers_are_403(custom: Custom) -> None:
    response = custom.create(scopes=["reports:read", "reports:write"])
    assert response.status_code == 403
    check_no_store(response)
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and "reports:write" in challenge
    assert custom.client.get(KEYS, headers=bearer(custom.token)).json() == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "expires_in": 0},
        {"name": "ok", "expires_in": -1},
        {"name": "ok", "expires_in": MAX_KEY_LIFETIME + 1},
        {"name": "ok", "expires_in": "soon"},
        {"name": "ok", "scopes": "reports:read"},
        {"name": "ok", "scopes": ["two words"]},
        {"name": "ok", "owner": "someone-else"},
        {"name": "tab\there"},
    ],
)
def test_bad_bodies_are_422(custom: Custom, body: dict[str, Any]) -> None:
    response = custom.client.post(KEYS, json=body, headers=bearer(custom.token))
    assert response.status_code == 422, response.text
    check_no_store(response)
    assert custom.client.get(KEYS, headers=bearer(custom.token)).json() == []


def test_garbage_bodies_are_4xx(custom: Custom) -> None:
    for raw in (b"", b"{", b"[]", b"\xff", b"null"):
        response = custom.client.post(
            KEYS,
            content=raw,
            headers={**bearer(custom.token), "content-type": "application/json"},
        )
        assert 400 <= response.status_code < 500, (raw, response.text)


# --- list and revoke ---------------------------------------------------------------------------


def test_list_never_shows_a_key_or_its_hash(custom: Custom) -> None:
    first = custom.new_key(name="first", scopes=["reports:read"])
    custom.clock.advance(1)
    second = custom.new_key(name="second", expires_in=60)
    response = custom.client.get(KEYS, headers=bearer(custom.token))
    assert response.status_code == 200
    check_no_store(response)
    listed = response.json()
    assert [k["id"] for k in listed] == [second["id"], first["id"]]
    assert set(listed[0]) == {
        "id",
        "name",
        "prefix",
        "scopes",
        "groups",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    }
    assert listed[1]["scopes"] == ["reports:read"] and listed[1]["last_used_at"] is None
    stored = custom.client.portal.call(custom.auth.store.get_api_key_by_id, first["id"])  # type: ignore[union-attr]
    for made in (first, second):
        assert made["key"] not in response.text
        assert made["key"][len(made["prefix"]) :] not in response.text
    assert stored.key_hash not in response.text


def test_last_used_at_shows_after_use(custom: Custom) -> None:
    made = custom.new_key()
    assert custom.client.get("/async", headers=bearer(made["key"])).status_code == 200
    listed = custom.client.get(KEYS, headers=bearer(custom.token)).json()
    assert when(listed[0]["last_used_at"]) == custom.clock.now


def test_revoke_is_204_then_the_key_is_refused(custom: Custom) -> None:
    made = custom.new_key()
    key = bearer(made["key"])
    assert custom.client.get("/async", headers=key).status_code == 200  # cached now
    response = custom.client.delete(f"{KEYS}/{made['id']}", headers=bearer(custom.token))
    assert response.status_code == 204 and response.content == b""
    check_no_store(response)
    refused = custom.client.get("/async", headers=key)  # this instance forgot it at once
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    listed = custom.client.get(KEYS, headers=bearer(custom.token)).json()
    assert when(listed[0]["revoked_at"]) == custom.clock.now
    again = custom.client.delete(f"{KEYS}/{made['id']}", headers=bearer(custom.token))
    assert again.status_code == 404
    check_no_store(again)


def test_revoking_a_key_not_the_callers_is_404(custom: Custom) -> None:
    someone = Principal(subject="someone-else", credential_type="access_token")
    theirs = custom.client.portal.call(  # type: ignore[union-attr]
        lambda: custom.auth.api_keys.create(someone, name="theirs")
    )
    for key_id in (theirs.record.id, "ak_nosuchkey", "x" * 500):
        response = custom.client.delete(f"{KEYS}/{key_id}", headers=bearer(custom.token))
        assert response.status_code == 404, key_id
        check_no_store(response)
    assert custom.client.get(KEYS, headers=bearer(custom.token)).json() == []
    # their key still works
    me = custom.client.get("/v1/auth/me", headers=bearer(theirs.key)).json()
    assert me["sub"] == "someone-else"


def test_the_routes_need_a_signed_in_caller(custom: Custom) -> None:
    for method, path in (("POST", KEYS), ("GET", KEYS), ("DELETE", f"{KEYS}/ak_x")):
        response = custom.client.request(method, path, json={"name": "x"})
        assert response.status_code == 401, (method, response.text)
        check_no_store(response)


# --- using a key -------------------------------------------------------------------------------


def test_a_key_works_like_a_bearer_token(custom: Custom) -> None:
    plain = custom.new_key(name="plain")
    reader = custom.new_key(name="reader", scopes=["reports:read"])
    me = custom.client.get("/v1/auth/me", headers=bearer(reader["key"]))
    assert me.status_code == 200
    body = me.json()
    assert body["credential_type"] == "api_key"
    token_me = custom.client.get("/v1/auth/me", headers=bearer(custom.token)).json()
    assert token_me["credential_type"] == "access_token"
    assert (body["sub"], body["email"], body["groups"]) == (token_me["sub"], EMAIL, [])
    assert body["scopes"] == ["reports:read"]
    for path in ("/sync", "/async"):
        assert custom.client.get(path, headers=bearer(plain["key"])).status_code == 200, path
    # a key is in no group unless it was made in one
    for path in ("/operator", "/root", "/auditor"):
        assert custom.client.get(path, headers=bearer(plain["key"])).status_code == 403, path
    # scopes are the key's, not the owner's
    assert custom.client.get("/reports", headers=bearer(reader["key"])).status_code == 200
    denied = custom.client.get("/reports", headers=bearer(plain["key"]))
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    assert custom.client.get("/optional", headers=bearer(plain["key"])).json()["sub"] == body["sub"]


def test_a_key_is_in_the_groups_named_at_creation_only(custom: Custom) -> None:
    """Issue 20 item 5: over HTTP, a key holds the groups named in ``groups`` (a subset of the
    caller's; none by default), listed with it; a group the caller is not in is 403 with a
    message naming it; a bad list is 422."""
    plain = custom.new_key(name="plain")
    root = custom.new_key(name="root", groups=["root"])
    assert (plain["groups"], root["groups"]) == ([], ["root"])
    assert custom.client.get("/root", headers=bearer(plain["key"])).status_code == 403
    passed = custom.client.get("/root", headers=bearer(root["key"]))
    assert passed.status_code == 200 and passed.json()["groups"] == ["root"]
    assert custom.client.get("/operator", headers=bearer(root["key"])).status_code == 200
    listed = custom.client.get(KEYS, headers=bearer(custom.token)).json()
    assert {k["name"]: k["groups"] for k in listed} == {"plain": [], "root": ["root"]}

    beyond = custom.create(name="x", groups=["root", "auditor"])
    assert beyond.status_code == 403
    check_no_store(beyond)
    assert beyond.json() == {
        "detail": "An API key can only be in groups its owner is in; the caller is not in: auditor."
    }
    for groups in ("root", [""], [1], [f"g{i}" for i in range(65)]):
        response = custom.create(name="x", groups=groups)
        assert response.status_code == 422, (groups, response.text)
        check_no_store(response)
    assert len(custom.client.get(KEYS, headers=bearer(custom.token)).json()) == 2


def test_an_api_key_cannot_manage_api_keys(custom: Custom) -> None:
    made = custom.new_key(scopes=["reports:read"])
    key = bearer(made["key"])
    for response in (
        custom.client.post(KEYS, json={"name": "child"}, headers=key),
        custom.client.get(KEYS, headers=key),
        custom.client.delete(f"{KEYS}/{made['id']}", headers=key),
    ):
        assert response.status_code == 403, response.text
        check_no_store(response)
        assert response.json() == {
            "detail": "An API key cannot manage API keys: sign in and use an access token."
        }
    listed = custom.client.get(KEYS, headers=bearer(custom.token)).json()
    assert [(k["id"], k["revoked_at"]) for k in listed] == [(made["id"], None)]


def test_bad_keys_are_401_and_never_reach_the_token_strategy(
    custom: Custom, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = custom.auth.strategies["jwt"].provider  # type: ignore[attr-defined]
    seen: list[str] = []
    real = provider.authenticate

    async def spy(token: str) -> Any:
        seen.append(token)
        return await real(token)

    monkeypatch.setattr(provider, "authenticate", spy)
    good = custom.new_key()
    expiring = custom.new_key(expires_in=10)
    revoked = custom.new_key()
    custom.client.delete(f"{KEYS}/{revoked['id']}", headers=bearer(custom.token))
    at = len(good["prefix"]) + 3
    tampered = good["key"][:at] + ("A" if good["key"][at] != "A" else "B") + good["key"][at + 1 :]
    custom.clock.advance(10)
    seen.clear()
    bad = [
        tampered,
        expiring["key"],
        revoked["key"],
        "vk_",
        "vk_nonsense",
        good["key"] + "x",
        "vk_" + "x" * 20_000,
        "vk_" + "é" * 43,
    ]
    for key in bad:
        raw = {"Authorization": b"Bearer " + key.encode("utf-8")}
        response = custom.client.get("/async", headers=raw)
        assert response.status_code == 401, (key[:20], response.text)
        challenge = response.headers["www-authenticate"]
        assert 'error="invalid_token"' in challenge and "API key" in challenge, challenge
        assert "API key" in response.json()["detail"]
        assert good["key"] not in response.text
    assert seen == []  # the JWT strategy never saw a vk_ value
    assert custom.client.get("/async", headers=bearer(good["key"])).status_code == 200
    assert custom.client.get("/async", headers=bearer(custom.token)).status_code == 200
    assert seen == [custom.token]


def test_store_down_is_503_with_retry_after(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "keys.db"
    store = SQLiteStore(path)
    app, _ = custom_app(clock, store=store, api_key_cache_ttl=0)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        made = client.post(KEYS, json={"name": "ci"}, headers=bearer(token)).json()
        client.portal.call(store.close)  # type: ignore[union-attr]
        away = path.with_name("away.db")
        path.rename(away)
        path.mkdir()  # the database cannot be opened any more
        try:
            for response in (
                client.post(KEYS, json={"name": "x"}, headers=bearer(token)),
                client.get(KEYS, headers=bearer(token)),
                client.delete(f"{KEYS}/{made['id']}", headers=bearer(token)),
                client.get("/async", headers=bearer(made["key"])),
                client.post("/v1/auth/login", json={"email": EMAIL, "password": "x"}),
            ):
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"].isdigit()
            # the access token needs no store
            assert client.get("/async", headers=bearer(token)).status_code == 200
        finally:
            path.rmdir()
            away.rename(path)
        assert client.get("/async", headers=bearer(made["key"])).status_code == 200


def test_creating_a_key_under_another_secret_is_503_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20 item 25 (the server's side): an instance whose AUTH_SECRET is not the one the
    store's keys were made with refuses to create keys (503, logged), rather than minting keys
    the other instances refuse; the keys made under the right secret keep working there."""
    path = tmp_path / "keys.db"
    right, _ = custom_app(Clock(), store=SQLiteStore(path))
    with TestClient(right) as client:
        made = client.post(KEYS, json={"name": "ci"}, headers=bearer(login(client)["access_token"]))
        assert made.status_code == 201
    wrong, _ = custom_app(
        Clock(), store=SQLiteStore(path), auth_secret="another-secret-0123456789-abcdefghijklmnop"
    )
    with caplog.at_level(logging.ERROR, logger="tokenward"), TestClient(wrong) as client:
        started = [r.getMessage() for r in caplog.records]
        assert any("is not the one the store's API keys were made with" in m for m in started)
        token = login(client)["access_token"]
        response = client.post(KEYS, json={"name": "x"}, headers=bearer(token))
        assert response.status_code == 503, response.text
        check_no_store(response)
        assert response.headers["retry-after"].isdigit()
        listed = client.get(KEYS, headers=bearer(token)).json()
        assert [k["id"] for k in listed] == [made.json()["id"]]  # nothing was added
    assert any("AUTH_SECRET is not the one" in r.getMessage() for r in caplog.records)
    with TestClient(right) as client:
        assert client.get("/async", headers=bearer(made.json()["key"])).status_code == 200


def test_a_random_development_secret_does_not_lock_key_creation(tmp_path: Path) -> None:
    """Without AUTH_SECRET (development: a random secret per process) no check value is kept,
    so a restarted app on the same SQLite file still creates keys (the old ones died with the
    old secret, as before)."""
    path = tmp_path / "dev.db"
    for _ in range(2):
        app, _auth = custom_app(Clock(), store=SQLiteStore(path), auth_secret=None)
        with TestClient(app) as client:
            token = login(client)["access_token"]
            made = client.post(KEYS, json={"name": "dev"}, headers=bearer(token))
            assert made.status_code == 201, made.text
            assert client.get("/async", headers=bearer(made.json()["key"])).status_code == 200


# --- Cognito -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cognito_client() -> Iterator[tuple[TestClient, str]]:
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    from moto_cognito import REGION, make_pool, moto_idp
    from tokenward.fastapi import AuthSettings

    with moto_idp() as (endpoint, idp):
        pool = make_pool(idp, endpoint, "keys")
        settings = AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ISOLATED_",
            auth_provider="cognito",
            cognito_region=REGION,
            cognito_user_pool_id=pool.id,
            cognito_app_client_id=pool.client,
            cognito_jwks_url=pool.jwks_url,
            environment="production",
            auth_secret="cognito-api-keys-secret-0123456789-abcdef",
        )
        auth = Auth(settings)
        app, _ = make_app_for(auth)
        with TestClient(app) as client:
            yield client, pool.access


def make_app_for(auth: Auth) -> tuple[FastAPI, Auth]:
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)
    app.include_router(auth.api_keys_router)

    @app.get("/ops", dependencies=[Depends(require_groups("operator"))])
    def ops() -> dict[str, str]:
        return {"ok": "ops"}

    @app.get("/profile")
    def profile(
        user: Annotated[
            CurrentUser, Security(require_current_user, scopes=["aws.cognito.signin.user.admin"])
        ],
    ) -> dict[str, str]:
        return {"ok": user.sub}

    return app, auth


def test_cognito_keys_end_to_end(cognito_client: tuple[TestClient, str]) -> None:
    client, access = cognito_client
    token_me = client.get("/v1/auth/me", headers=bearer(access)).json()
    assert token_me["credential_type"] == "access_token"
    assert "aws.cognito.signin.user.admin" in token_me["scopes"]

    beyond = client.post(KEYS, json={"name": "x", "scopes": ["admin"]}, headers=bearer(access))
    assert beyond.status_code == 403
    check_no_store(beyond)

    created = client.post(
        KEYS,
        json={"name": "cli", "scopes": ["aws.cognito.signin.user.admin"], "expires_in": None},
        headers=bearer(access),
    )
    assert created.status_code == 201, created.text
    check_no_store(created)
    made = created.json()
    plain = client.post(KEYS, json={"name": "plain"}, headers=bearer(access)).json()

    me = client.get("/v1/auth/me", headers=bearer(made["key"]))
    assert me.status_code == 200
    body = me.json()
    assert body["credential_type"] == "api_key"
    assert body["sub"] == token_me["sub"]
    assert token_me["groups"] == ["operator"] and body["groups"] == []
    assert body["scopes"] == ["aws.cognito.signin.user.admin"]
    assert client.get("/ops", headers=bearer(plain["key"])).status_code == 403
    ops = client.post(KEYS, json={"name": "ops", "groups": ["operator"]}, headers=bearer(access))
    assert ops.status_code == 201 and ops.json()["groups"] == ["operator"]
    assert client.get("/ops", headers=bearer(ops.json()["key"])).status_code == 200
    assert client.get("/profile", headers=bearer(made["key"])).status_code == 200
    assert client.get("/profile", headers=bearer(plain["key"])).status_code == 403

    listed = client.get(KEYS, headers=bearer(access))
    assert listed.status_code == 200
    check_no_store(listed)
    assert {k["id"] for k in listed.json()} == {made["id"], plain["id"], ops.json()["id"]}
    assert made["key"] not in listed.text and plain["key"] not in listed.text

    for response in (
        client.post(KEYS, json={"name": "child"}, headers=bearer(made["key"])),
        client.get(KEYS, headers=bearer(made["key"])),
        client.delete(f"{KEYS}/{plain['id']}", headers=bearer(made["key"])),
    ):
        assert response.status_code == 403

    bad = client.get("/ops", headers=bearer(made["key"][:-2] + "AA"))
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]

    gone = client.delete(f"{KEYS}/{made['id']}", headers=bearer(access))
    assert gone.status_code == 204
    assert client.get("/ops", headers=bearer(made["key"])).status_code == 401
    assert client.delete(f"{KEYS}/{made['id']}", headers=bearer(access)).status_code == 404


# --- Cognito without AUTH_SECRET: API keys are off, and say so --------------------------------

_COGNITO_NO_SECRET = {
    "auth_provider": "cognito",
    "cognito_region": "eu-west-1",
    "cognito_user_pool_id": "eu-west-1_NoSecret",
    "cognito_app_client_id": "client",
    "environment": "production",
}


def test_cognito_without_a_secret_turns_api_keys_off(caplog: pytest.LogCaptureFixture) -> None:
    """A random per-process key would make every API key fail on the other instances and
    after a restart, so without AUTH_SECRET the keys are off: a vk_ bearer is a 401, mounting
    the router is a ConfigurationError naming the variable, and a warning says why."""
    with caplog.at_level(logging.WARNING, logger="tokenward"):
        auth = Auth(AuthSettings.from_env(prefix="TOKENWARD_TEST_NOSECRET_", **_COGNITO_NO_SECRET))
    assert auth.api_keys is None
    assert auth.default_strategies == ("jwt",)
    assert any("API keys are off" in r.getMessage() for r in caplog.records)
    assert not any("random secret" in r.getMessage() for r in caplog.records)
    with pytest.raises(ConfigurationError, match="TOKENWARD_TEST_NOSECRET_AUTH_SECRET"):
        _ = auth.api_keys_router
    app = FastAPI()
    auth.install(app)

    @app.get("/protected")
    def protected(user: Annotated[CurrentUser, Depends(require_current_user)]) -> str:
        return user.sub

    response = TestClient(app).get("/protected", headers={"Authorization": "Bearer vk_" + "A" * 43})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_cognito_naming_api_key_without_a_secret_does_not_start() -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_NOSECRET_", auth_strategies="jwt,api_key", **_COGNITO_NO_SECRET
    )
    with pytest.raises(ConfigurationError, match="names api_key"):
        Auth(settings)


def test_cognito_refuses_a_short_secret() -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_NOSECRET_", auth_secret="short", **_COGNITO_NO_SECRET
    )
    with pytest.raises(ConfigurationError, match="at least 32"):
        settings.check()
