"""COGNITO_ISSUER (an exact ``iss`` for emulators) and COGNITO_DOMAIN (Swagger's Authorize through
the hosted UI: authorization code with PKCE)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI, Security

import tokenward as tw
from _fastapi_support import TestClient, bearer
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_current_user

POOL = "eu-west-1_AbC123"
CLIENT = "app-client-1"
DOMAIN = "my-pool.auth.eu-west-1.amazoncognito.com"


def make_auth(**overrides: Any) -> Auth:
    values: dict[str, Any] = {
        "auth_provider": "cognito",
        "cognito_region": "eu-west-1",
        "cognito_user_pool_id": POOL,
        "cognito_app_client_id": f"{CLIENT},app-client-2",
        "cognito_jwks_url": "http://127.0.0.1:9/jwks.json",  # never fetched in these tests
        "environment": "production",
    }
    values.update(overrides)
    return Auth(AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values))


def make_app(auth: Auth, **app_options: Any) -> FastAPI:
    app = FastAPI(**app_options)

    @app.get("/me")
    def me(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, str]:
        return {"sub": user.sub}

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    auth.install(app)
    return app


# --- COGNITO_DOMAIN ----------------------------------------------------------------------------


def test_without_a_domain_swagger_offers_the_bearer_scheme() -> None:
    app = make_app(make_auth())
    scheme = app.openapi()["components"]["securitySchemes"]["tokenward"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert app.swagger_ui_init_oauth is None


def test_with_a_domain_swagger_signs_in_at_the_hosted_ui() -> None:
    app = make_app(make_auth(cognito_domain=DOMAIN))
    doc = app.openapi()
    scheme = doc["components"]["securitySchemes"]["tokenward"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["authorizationCode"]
    assert list(scheme["flows"]) == ["authorizationCode"]
    assert flow["authorizationUrl"] == f"https://{DOMAIN}/oauth2/authorize"
    assert flow["tokenUrl"] == f"https://{DOMAIN}/oauth2/token"
    assert {"openid", "email", "profile", "reports:read"} <= set(flow["scopes"])
    assert doc["paths"]["/reports"]["get"]["security"] == [{"tokenward": ["reports:read"]}]
    assert app.swagger_ui_init_oauth == {
        "clientId": CLIENT,
        "usePkceWithAuthorizationCodeGrant": True,
        "scopes": "openid email profile",
    }
    html = TestClient(app).get("/docs").text
    assert '"usePkceWithAuthorizationCodeGrant": true' in html
    assert f'"clientId": "{CLIENT}"' in html
    assert TestClient(app).get("/docs/oauth2-redirect").status_code == 200


def test_an_apps_own_init_oauth_is_kept() -> None:
    own = {"clientId": "mine", "appName": "x"}
    app = make_app(make_auth(cognito_domain=DOMAIN), swagger_ui_init_oauth=own)
    assert app.swagger_ui_init_oauth == own
    assert (
        "authorizationCode"
        in (app.openapi()["components"]["securitySchemes"]["tokenward"]["flows"])
    )


def test_the_custom_provider_ignores_the_domain() -> None:
    auth = Auth(
        AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ISOLATED_",
            auth_secret="s" * 40,
            cognito_domain=DOMAIN,
        )
    )
    app = make_app(auth)
    flows = app.openapi()["components"]["securitySchemes"]["tokenward"]["flows"]
    assert list(flows) == ["password"]
    assert app.swagger_ui_init_oauth is None


@pytest.mark.parametrize(
    "domain",
    ["https://auth.example.com", "auth.example.com/oauth2", "nodots", "a b.example.com", ""],
)
def test_a_bad_domain_refuses_to_start(domain: str) -> None:
    with pytest.raises(tw.ConfigurationError, match="COGNITO_DOMAIN"):
        make_auth(cognito_domain=domain)


@pytest.mark.parametrize("domain", ["auth.example.com", "localhost.localdomain:9229"])
def test_good_domains(domain: str) -> None:
    make_auth(cognito_domain=domain)


# --- COGNITO_ISSUER ----------------------------------------------------------------------------


@pytest.mark.parametrize("issuer", ["not a url", "ftp://x.example/pool", "/relative"])
def test_a_bad_issuer_refuses_to_start(issuer: str) -> None:
    with pytest.raises(tw.ConfigurationError, match="COGNITO_ISSUER"):
        make_auth(cognito_issuer=issuer)


@pytest.fixture(scope="module")
def moto_pool() -> Iterator[Any]:
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    from moto_cognito import make_pool, moto_idp

    with moto_idp() as (endpoint, idp):
        yield make_pool(idp, endpoint, "issuer-override")


def _pool_auth(pool: Any, issuer: str | None) -> Auth:
    return make_auth(
        cognito_user_pool_id=pool.id,
        cognito_region=pool.id.partition("_")[0],
        cognito_app_client_id=pool.client,
        cognito_jwks_url=pool.jwks_url,
        cognito_issuer=issuer,
    )


def test_cognito_issuer_is_the_exact_iss_accepted(moto_pool: Any) -> None:
    token = moto_pool.access
    assert tw.unverified_claims(token)["iss"] == moto_pool.issuer
    same = _pool_auth(moto_pool, moto_pool.issuer)
    assert same.cognito is not None
    with TestClient(make_app(same)) as client:
        assert client.get("/me", headers=bearer(token)).status_code == 200
    emulator = _pool_auth(moto_pool, "http://localhost:9229/" + moto_pool.id)
    with TestClient(make_app(emulator)) as client:
        response = client.get("/me", headers=bearer(token))
        assert response.status_code == 401


def test_cognito_has_no_key_ring_to_publish() -> None:
    auth = make_auth()
    assert auth.key_ring is None
    with pytest.raises(tw.ConfigurationError, match="publishes its own keys"):
        _ = auth.jwks_router
    with pytest.raises(tw.ConfigurationError, match="no key ring to rotate"):
        auth.rotate_keys()
