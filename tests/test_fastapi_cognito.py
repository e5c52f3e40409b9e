"""The FastAPI layer with AUTH_PROVIDER=cognito, against real tokens from moto's Cognito."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")
boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from fastapi import Depends, FastAPI, Security  # noqa: E402

import tokenward as tw  # noqa: E402
from _fastapi_support import TestClient, bearer  # noqa: E402
from tokenward.fastapi import (  # noqa: E402
    Auth,
    AuthSettings,
    CurrentUser,
    require_current_user,
    require_groups,
)

REGION = "us-east-1"
PASSWORD = "Correct-Horse-42!"


@dataclass
class Cognito:
    endpoint: str
    pool_id: str
    client: str
    jwks_url: str
    tokens: dict[str, str]
    other_client_tokens: dict[str, str]


def _sign_in(idp: Any, pool_id: str, client: str) -> dict[str, str]:
    result = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client,
        AuthFlow="ADMIN_NO_SRP_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return {"access": result["AccessToken"], "id": result["IdToken"]}


@pytest.fixture(scope="module")
def cognito() -> Iterator[Cognito]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        idp = boto3.client(
            "cognito-idp",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        pool_id = idp.create_user_pool(PoolName="app")["UserPool"]["Id"]
        clients = [
            idp.create_user_pool_client(
                UserPoolId=pool_id, ClientName=name, ExplicitAuthFlows=["ADMIN_NO_SRP_AUTH"]
            )["UserPoolClient"]["ClientId"]
            for name in ("web", "other")
        ]
        idp.admin_create_user(UserPoolId=pool_id, Username="alice", TemporaryPassword="Tmp-42!x")
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username="alice", Password=PASSWORD, Permanent=True
        )
        idp.create_group(UserPoolId=pool_id, GroupName="operator")
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username="alice", GroupName="operator")
        yield Cognito(
            endpoint=endpoint,
            pool_id=pool_id,
            client=clients[0],
            jwks_url=f"{endpoint}/{pool_id}/.well-known/jwks.json",
            tokens=_sign_in(idp, pool_id, clients[0]),
            other_client_tokens=_sign_in(idp, pool_id, clients[1]),
        )
    finally:
        server.stop()


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
