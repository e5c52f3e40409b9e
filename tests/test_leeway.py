"""LEEWAY: the clock skew both providers allow when they check exp, nbf and iat."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI

import tokenward as tw
from _fastapi_support import Clock, TestClient, bearer, login, make_app
from jwks_server import JWKSServer
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_current_user

SKEW = 2  # seconds the clocks disagree by in these tests
POOL = "eu-west-1_Leeway1"
CLIENT = "leeway-client"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"


def test_the_default_is_no_leeway() -> None:
    assert AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_").leeway == 0


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
@pytest.mark.parametrize("leeway", [0, 5])
def test_custom_provider_tokens_with_and_without_leeway(
    tmp_path: Path, algorithm: str, leeway: int
) -> None:
    """Issue 20 item 23: a server whose clock is 2 s behind the issuer's refused a fresh token,
    and one 2 s ahead an expired one. With LEEWAY=5 the custom provider accepts both; without
    it, neither."""
    values: dict[str, Any] = {"token_algorithm": algorithm, "leeway": leeway}
    if algorithm != "HS256":
        key = tw.JWK.generate(algorithm)
        key_file = tmp_path / "keys.json"
        key_file.write_text(json.dumps({"keys": [json.loads(key.to_json(private=True))]}))
        values["signing_key_file"] = str(key_file)
    clock = Clock()
    app, auth = make_app(clock=clock, **values)
    expected = 200 if leeway else 401
    with TestClient(app) as client:
        token = login(client)["access_token"]
        claims = tw.unverified_claims(token)
        clock.now = claims["iat"] - SKEW  # this server is behind: the token is from its future
        assert client.get("/sync", headers=bearer(token)).status_code == expected
        clock.now = claims["exp"] + SKEW  # this server is ahead: the token expired just now
        assert client.get("/sync", headers=bearer(token)).status_code == expected
        clock.now = claims["exp"] + leeway + SKEW  # past the leeway, refused either way
        assert client.get("/sync", headers=bearer(token)).status_code == 401
    assert auth.settings.leeway == leeway


@pytest.fixture(scope="module")
def pool_keys() -> Iterator[tuple[tw.JWK, str]]:
    key = tw.JWK.generate("RS256")
    server = JWKSServer()
    server.keys = [key]
    server.start()
    try:
        yield key, server.url
    finally:
        server.stop()


def _cognito_app(jwks_url: str, leeway: int) -> FastAPI:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        auth_provider="cognito",
        cognito_region="eu-west-1",
        cognito_user_pool_id=POOL,
        cognito_app_client_id=CLIENT,
        cognito_jwks_url=jwks_url,
        environment="production",
        leeway=leeway,
    )
    auth = Auth(settings)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    def me(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def _cognito_token(key: tw.JWK, **times: float) -> str:
    claims = {
        "iss": ISSUER,
        "sub": "u-1",
        "client_id": CLIENT,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        **{name: int(value) for name, value in times.items()},
    }
    return tw.encode(claims, key)


@pytest.mark.parametrize("leeway", [0, 30])
def test_cognito_tokens_with_and_without_leeway(pool_keys: tuple[tw.JWK, str], leeway: int) -> None:
    """Issue 20 item 23: Cognito access tokens issued by a clock ahead of this server's (iat and
    nbf in its future) or just expired are accepted within LEEWAY, refused without it."""
    key, url = pool_keys
    now = time.time()
    future = _cognito_token(key, iat=now + 10, nbf=now + 10, exp=now + 3600)
    expired = _cognito_token(key, iat=now - 3600, exp=now - 10)
    long_expired = _cognito_token(key, iat=now - 3600, exp=now - 600)
    expected = 200 if leeway else 401
    with TestClient(_cognito_app(url, leeway)) as client:
        assert client.get("/me", headers=bearer(future)).status_code == expected
        assert client.get("/me", headers=bearer(expired)).status_code == expected
        assert client.get("/me", headers=bearer(long_expired)).status_code == 401
