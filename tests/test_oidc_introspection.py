"""Opaque access tokens checked by RFC 7662 introspection (issue 24): IntrospectionStrategy
against a real introspection endpoint on loopback (tests/oidc_server.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

pytest.importorskip("httpx")

from _uvicorn_support import free_port
from oidc_server import IssuerServer
from tokenward.exceptions import (
    ConfigurationError,
    ExpiredTokenError,
    IntrospectionUnavailableError,
    InvalidAudienceError,
    InvalidTokenError,
)
from tokenward.oidc import ClaimMapping
from tokenward.strategies import Credentials, IntrospectionStrategy

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[IssuerServer]:
    issuer = IssuerServer().start()
    issuer.tokens["opaque-alice"] = {
        "active": True,
        "sub": "alice",
        "client_id": "web",
        "scope": "orders.read orders.write",
        "groups": ["staff"],
        "aud": ["api://orders"],
        "exp": int(NOW) + 3600,
    }
    try:
        yield issuer
    finally:
        issuer.stop()


def strategy(server: IssuerServer, clock: Clock, **options: Any) -> IntrospectionStrategy:
    return IntrospectionStrategy(
        server.introspection_url,
        client_id=server.client_id,
        client_secret=server.client_secret,
        clock=clock,
        **options,
    )


def check(s: IntrospectionStrategy, token: str) -> Any:
    return asyncio.run(s.authenticate(Credentials(authorization=f"Bearer {token}")))


def test_an_active_token_is_the_principal_and_is_cached(server: IssuerServer) -> None:
    s = strategy(server, Clock(), audience="api://orders")
    who = check(s, "opaque-alice")
    assert who.subject == "alice" and who.provider == "introspection"
    assert who.scopes == ("orders.read", "orders.write") and who.groups == ("staff",)
    assert check(s, "opaque-alice") == who
    assert server.count("/introspect") == 1


def test_the_cache_never_outlives_exp(server: IssuerServer) -> None:
    server.tokens["short"] = {"active": True, "sub": "bob", "exp": int(NOW) + 10}
    clock = Clock()
    s = strategy(server, clock)
    check(s, "short")
    clock.now += 9
    check(s, "short")
    assert server.count("/introspect") == 1
    clock.now += 2  # past exp: asked again, and the answer (still "active") is expired here
    with pytest.raises(ExpiredTokenError):
        check(s, "short")
    assert server.count("/introspect") == 2


def test_the_cache_never_outlives_its_max(server: IssuerServer) -> None:
    clock = Clock()
    s = strategy(server, clock, max_cache_ttl=30)
    check(s, "opaque-alice")
    clock.now += 29
    check(s, "opaque-alice")
    assert server.count("/introspect") == 1
    server.tokens["opaque-alice"] = {"active": False}  # revoked at the provider
    clock.now += 2
    with pytest.raises(InvalidTokenError, match="not active"):
        check(s, "opaque-alice")


def test_an_inactive_token_is_refused_and_not_cached(server: IssuerServer) -> None:
    s = strategy(server, Clock())
    for _ in range(2):
        with pytest.raises(InvalidTokenError, match="not active"):
            check(s, "unknown-token")
    assert server.count("/introspect") == 2


def test_inactive_answers_cached_briefly_when_asked(server: IssuerServer) -> None:
    clock = Clock()
    s = strategy(server, clock, inactive_ttl=5)
    for _ in range(2):
        with pytest.raises(InvalidTokenError):
            check(s, "unknown-token")
    assert server.count("/introspect") == 1
    clock.now += 6
    with pytest.raises(InvalidTokenError):
        check(s, "unknown-token")
    assert server.count("/introspect") == 2


def test_the_cache_is_bounded(server: IssuerServer) -> None:
    for i in range(5):
        server.tokens[f"t{i}"] = {"active": True, "sub": f"u{i}"}
    s = strategy(server, Clock(), cache_size=2)
    for i in range(5):
        check(s, f"t{i}")
    assert len(s._cache) == 2
    assert all(len(key) == 32 for key in s._cache)  # digests, never the tokens


def test_another_audience_is_refused(server: IssuerServer) -> None:
    s = strategy(server, Clock(), audience="api://billing")
    with pytest.raises(InvalidAudienceError):
        check(s, "opaque-alice")


def test_a_jwt_is_not_mine_and_an_api_key_neither(server: IssuerServer) -> None:
    s = strategy(server, Clock())
    assert check(s, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln") is None
    assert check(s, "vk_abc") is None
    assert asyncio.run(s.authenticate(Credentials())) is None
    assert server.count("/introspect") == 0


def test_a_client_token_takes_the_client_id_as_subject(server: IssuerServer) -> None:
    server.tokens["m2m"] = {"active": True, "client_id": "billing-service", "scope": "x"}
    assert check(strategy(server, Clock()), "m2m").subject == "billing-service"


def test_the_endpoint_down_is_unavailable_never_invalid(server: IssuerServer) -> None:
    server.introspection = "500"
    s = strategy(server, Clock())
    with pytest.raises(IntrospectionUnavailableError, match="500"):
        check(s, "opaque-alice")
    closed = IntrospectionStrategy(
        f"http://127.0.0.1:{free_port()}/introspect", client_id="a", client_secret="b"
    )
    with pytest.raises(IntrospectionUnavailableError, match="reached"):
        check(closed, "opaque-alice")


def test_refused_client_credentials_are_unavailable_and_logged(
    server: IssuerServer, caplog: pytest.LogCaptureFixture
) -> None:
    s = IntrospectionStrategy(
        server.introspection_url, client_id=server.client_id, client_secret="wrong"
    )
    with caplog.at_level(logging.ERROR, logger="tokenward"):
        with pytest.raises(IntrospectionUnavailableError):
            check(s, "opaque-alice")
    assert "client credentials" in caplog.text


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        IntrospectionStrategy("http://idp.example.com/introspect", client_id="a", client_secret="b")
    with pytest.raises(ConfigurationError):
        IntrospectionStrategy("https://idp.example.com/i", client_id="", client_secret="b")
    with pytest.raises(ConfigurationError):
        IntrospectionStrategy(
            "https://idp.example.com/i", client_id="a", client_secret="b", inactive_ttl=90
        )


def test_a_claim_mapping_applies(server: IssuerServer) -> None:
    server.tokens["kc"] = {"active": True, "sub": "k", "realm_access": {"roles": ["admin"]}}
    mapping = ClaimMapping(roles_claim="realm_access.roles")
    assert check(strategy(server, Clock(), mapping=mapping), "kc").groups == ("admin",)


# --- through the settings and the app ---------------------------------------------------------

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI  # noqa: E402

from _fastapi_support import TestClient  # noqa: E402
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_current_user  # noqa: E402


def test_auth_strategies_introspection_in_an_app(server: IssuerServer) -> None:
    server.tokens["opaque-alice"]["exp"] = 4_000_000_000
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        auth_provider="oidc",
        environment="production",
        oidc_issuer=server.issuer,
        oidc_audience="api://orders",
        auth_strategies="introspection,jwt",
        oidc_introspection_url=server.introspection_url,
        oidc_client_id=server.client_id,
        oidc_client_secret=server.client_secret,
    )
    auth = Auth(settings)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    def me(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return {"sub": user.sub}

    with TestClient(app) as client:

        def get(token: str) -> Any:
            return client.get("/me", headers={"Authorization": f"Bearer {token}"})

        assert get("opaque-alice").json() == {"sub": "alice"}
        assert get("opaque-nobody").status_code == 401
        jwt = server.sign({"aud": "api://orders"})  # a JWT still goes to the jwt strategy
        assert get(jwt).status_code == 200
        server.introspection = "500"
        answer = get("opaque-bob")
        assert answer.status_code == 503 and answer.headers.get("Retry-After")


def test_introspection_settings_are_checked(server: IssuerServer) -> None:
    with pytest.raises(ConfigurationError, match="OIDC_CLIENT_SECRET"):
        AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ISOLATED_",
            auth_provider="oidc",
            oidc_issuer=server.issuer,
            oidc_audience="a",
            auth_strategies="introspection,jwt",
            oidc_introspection_url=server.introspection_url,
            oidc_client_id="x",
        ).check()
