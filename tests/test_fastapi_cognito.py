"""The FastAPI layer with AUTH_PROVIDER=cognito, against real tokens from moto's Cognito."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from fastapi import Depends, FastAPI, Security

import tokenward as tw
from _fastapi_support import TestClient, bearer
from moto_cognito import REGION, make_pool, moto_idp, sign_in
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    require_current_user,
    require_groups,
)


@dataclass
class Cognito:
    endpoint: str
    pool_id: str
    client: str
    jwks_url: str
    tokens: dict[str, str]
    other_client_tokens: dict[str, str]


@pytest.fixture(scope="module")
def cognito() -> Iterator[Cognito]:
    with moto_idp() as (endpoint, idp):
        pool = make_pool(idp, endpoint, "app")
        yield Cognito(
            endpoint=endpoint,
            pool_id=pool.id,
            client=pool.client,
            jwks_url=pool.jwks_url,
            tokens={"access": pool.access, "id": pool.id_token},
            other_client_tokens=sign_in(idp, pool.id, pool.other_client),
        )


def make_auth(cognito: Cognito, **overrides: Any) -> Auth:
    values: dict[str, Any] = {
        "auth_provider": "cognito",
        "cognito_region": REGION,
        "cognito_user_pool_id": cognito.pool_id,
        "cognito_app_client_id": cognito.client,
        "cognito_jwks_url": cognito.jwks_url,
        "environment": "production",
    }
    values.update(overrides)
    return Auth(AuthSettings.from_env(**values))


def make_app(auth: Auth) -> FastAPI:
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.get("/ops", dependencies=[Depends(require_groups("operator"))])
    def ops() -> dict[str, str]:
        return {"ok": "ops"}

    @app.get("/root", dependencies=[Depends(require_groups("root"))])
    def root() -> dict[str, str]:
        return {"ok": "root"}

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, str]:
        return {"ok": user.sub}

    @app.get("/profile")
    def profile(
        user: Annotated[
            CurrentUser,
            Security(require_current_user, scopes=["aws.cognito.signin.user.admin"]),
        ],
    ) -> dict[str, str]:
        return {"ok": user.sub}

    return app


@pytest.fixture(scope="module")
def client(cognito: Cognito) -> Iterator[TestClient]:
    auth = make_auth(cognito)
    with TestClient(make_app(auth)) as c:
        # the lifespan fetched the keys before any request
        assert [k.generation for k in auth.cognito.key_sets] == [1]  # type: ignore[union-attr]
        yield c


def test_cognito_access_token_gives_the_same_current_user(client: TestClient, cognito) -> None:
    response = client.get("/v1/auth/me", headers=bearer(cognito.tokens["access"]))
    assert response.status_code == 200
    me = response.json()
    assert me["provider"] == "cognito"
    assert me["groups"] == ["operator"]
    assert "aws.cognito.signin.user.admin" in me["scopes"]
    assert me["claims"]["client_id"] == cognito.client
    claims = tw.unverified_claims(cognito.tokens["access"])
    assert me["sub"] == claims["sub"]


def test_groups_and_scopes(client: TestClient, cognito: Cognito) -> None:
    headers = bearer(cognito.tokens["access"])
    assert client.get("/ops", headers=headers).status_code == 200
    assert client.get("/profile", headers=headers).status_code == 200
    missing_group = client.get("/root", headers=headers)
    assert missing_group.status_code == 403
    assert 'error="insufficient_scope"' in missing_group.headers["www-authenticate"]
    assert client.get("/reports", headers=headers).status_code == 403


@pytest.mark.parametrize("which", ["id token", "other client", "tampered", "garbage"])
def test_refused_tokens_are_401(client: TestClient, cognito: Cognito, which: str) -> None:
    token = {
        "id token": cognito.tokens["id"],
        "other client": cognito.other_client_tokens["access"],
        "tampered": cognito.tokens["access"][:-6] + "AAAAAA",
        "garbage": "not.a.token",
    }[which]
    response = client.get("/ops", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_no_token_is_401(client: TestClient) -> None:
    assert client.get("/ops").status_code == 401


def test_debug_login_routes_are_not_mounted(client: TestClient) -> None:
    for path in ("/v1/auth/login", "/v1/auth/refresh", "/v1/auth/logout"):
        assert client.post(path, json={}).status_code in (404, 405)
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/auth/login" not in paths
    assert "/v1/auth/me" in paths


def test_unreachable_keys_are_503_never_200_or_500(
    cognito: Cognito, caplog: pytest.LogCaptureFixture
) -> None:
    auth = make_auth(cognito, cognito_jwks_url="http://127.0.0.1:9/jwks.json")
    with caplog.at_level(logging.WARNING), TestClient(make_app(auth)) as c:
        assert "cannot prefetch the Cognito keys" in caplog.text  # start-up goes on
        response = c.get("/ops", headers=bearer(cognito.tokens["access"]))
        assert response.status_code == 503
        assert c.get("/ops", headers=bearer("not.a.token")).status_code in (401, 503)


@pytest.mark.parametrize(
    "missing", ["cognito_region", "cognito_user_pool_id", "cognito_app_client_id"]
)
def test_missing_cognito_settings_stop_start_up(cognito: Cognito, missing: str) -> None:
    with pytest.raises(tw.ConfigurationError, match=f"TOKENWARD_{missing.upper()}"):
        make_auth(cognito, **{missing: None})


# --- COGNITO_TOKEN_USE ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "accepted"), [("access", {"access"}), ("id", {"id"}), ("any", {"access", "id"})]
)
def test_cognito_token_use_setting(cognito: Cognito, setting: str, accepted: set[str]) -> None:
    """Issue 20 item 21: COGNITO_TOKEN_USE=access|id|any (default access) says which of moto's
    real tokens a bearer header may carry; the other kind is a 401 whose detail names the kind
    sent and the kind accepted (it said "send the access_token (not the refresh_token)")."""
    auth = make_auth(cognito, cognito_token_use=setting)
    assert auth.settings.cognito_token_use == setting
    assert make_auth(cognito).settings.cognito_token_use == "access"
    kind = {"access": "An access token", "id": "An ID token"}
    with TestClient(make_app(auth)) as c:
        for use in ("access", "id"):
            response = c.get("/v1/auth/me", headers=bearer(cognito.tokens[use]))
            if use in accepted:
                assert response.status_code == 200, response.text
                assert response.json()["claims"]["token_use"] == use
                if use == "id":  # the audience of an ID token is its aud: the app client
                    assert response.json()["claims"]["aud"] == cognito.client
                continue
            assert response.status_code == 401
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
            detail = response.json()["detail"]
            assert detail.startswith(
                f"{kind[use]} was sent (token_use {use!r}), and this accepts "
                f"{'ID' if setting == 'id' else 'access'} tokens only: send one from "
            ), detail
            assert "refresh_token" not in detail
        doc = c.get("/openapi.json").json()
        named = {"access": "access token", "id": "ID token", "any": "access or ID token"}[setting]
        description = doc["components"]["securitySchemes"]["tokenward"]["description"]
        assert description.startswith(f"A Cognito {named} of the user pool"), description
        if "id" in accepted:  # an ID token of another app client: its aud is checked
            other = c.get("/v1/auth/me", headers=bearer(cognito.other_client_tokens["id"]))
            assert other.status_code == 401


def test_cognito_token_use_takes_three_values(cognito: Cognito) -> None:
    with pytest.raises(tw.ConfigurationError, match="TOKENWARD_COGNITO_TOKEN_USE: Input should be"):
        make_auth(cognito, cognito_token_use="both")


def test_why_a_token_was_refused_is_logged_at_debug_level(
    cognito: Cognito, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 20 item 21: each refused Cognito token is logged at debug level on the
    ``tokenward`` logger with the reason and the token's kid, and nothing of the token."""
    auth = make_auth(cognito)
    token = cognito.tokens["id"]
    kid = tw.unverified_header(token)["kid"]
    claims = tw.unverified_claims(token)
    with caplog.at_level(logging.DEBUG, logger="tokenward"), TestClient(make_app(auth)) as c:
        assert c.get("/ops", headers=bearer(token)).status_code == 401
        assert (
            c.get("/ops", headers=bearer(cognito.tokens["access"][:-6] + "AAAAAA")).status_code
            == 401
        )
    refused = [
        r.getMessage()
        for r in caplog.records
        if r.name == "tokenward" and r.levelno == logging.DEBUG and "refused" in r.getMessage()
    ]
    assert len(refused) == 2, refused
    assert refused[0] == (
        f"tokenward: Cognito token refused (kid {kid}): TokenUseError: an ID token was sent "
        "(token_use 'id'), and this accepts access tokens only"
    )
    assert refused[1].startswith(f"tokenward: Cognito token refused (kid {kid}): InvalidSignature")
    for secret in (token, token.split(".")[1], claims["sub"], claims["aud"], claims["jti"]):
        assert secret not in caplog.text


# --- errors raised by application code -------------------------------------------------------


@pytest.mark.parametrize("register", ["install", "exception_handlers"])
def test_an_expired_token_error_from_application_code_names_the_providers_way_out(
    cognito: Cognito, register: str
) -> None:
    """Issue 20 item 19: an ExpiredTokenError raised by application code answers 401 with the
    way to a new token of the app's provider: under Cognito the identity provider (there is no
    POST /v1/auth/refresh), under the custom provider the refresh route."""
    custom = Auth(AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", auth_secret="s" * 40))
    for auth, wanted, unwanted in (
        (make_auth(cognito), "identity provider", "/v1/auth/refresh"),
        (custom, "POST /v1/auth/refresh", "identity provider"),
    ):
        if register == "install":
            app = FastAPI(lifespan=auth.lifespan)
            auth.install(app)
        else:
            app = FastAPI(lifespan=auth.lifespan, exception_handlers=auth.exception_handlers)
        app.include_router(auth.router)

        @app.get("/upstream")
        def upstream() -> None:
            raise tw.ExpiredTokenError("the upstream session expired")

        with TestClient(app) as c:
            response = c.get("/upstream")
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
            detail = response.json()["detail"]
            assert wanted in detail and unwanted not in detail, detail
            if auth is custom:  # the route it names exists
                assert c.post("/v1/auth/refresh", json={}).status_code != 404
            else:
                assert c.post("/v1/auth/refresh", json={}).status_code == 404
