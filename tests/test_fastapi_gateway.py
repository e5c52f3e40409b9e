"""TRUST_GATEWAY_CLAIMS behind API Gateway: the app under a Mangum handler, invoked with the event
shapes API Gateway sends (HTTP API payload 2.0 and REST API), against moto's Cognito for the pool
and its JWKS. Roles from ``cognito:groups`` and a groups claim that is not all strings, too."""

from __future__ import annotations

import asyncio
import gzip
import importlib.resources
import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("boto3")
pytest.importorskip("moto.server")
pytest.importorskip("mangum")

import mangum
from fastapi import Depends, FastAPI, Security

import tokenward as tw
from _fastapi_support import TestClient, bearer
from moto_cognito import REGION, Pool, make_pool, moto_idp
from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    authenticate,
    require_current_user,
    require_groups,
)

ROLES = {"operator": ["reports:read", "users.read"], "viewer": ["users.read"], "admin": []}
SCOPES = {
    "reports:read": "Read the reports",
    "users.read": "List users",
    "users.write": "Change users",
    "aws.cognito.signin.user.admin": "Cognito's own",
}


@dataclass
class Cognito:
    pool: Pool
    key: tw.JWK


@pytest.fixture(scope="module")
def cognito() -> Iterator[Cognito]:
    resource = importlib.resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz"
    key = tw.JWK.from_json(gzip.decompress(resource.read_bytes()))
    with moto_idp() as (endpoint, idp):
        yield Cognito(make_pool(idp, endpoint, "gateway"), key)


def make_auth(cognito: Cognito, **overrides: Any) -> Auth:
    values: dict[str, Any] = {
        "auth_provider": "cognito",
        "cognito_region": REGION,
        "cognito_user_pool_id": cognito.pool.id,
        "cognito_app_client_id": cognito.pool.client,
        "cognito_jwks_url": cognito.pool.jwks_url,
        "environment": "production",
        "trust_gateway_claims": True,
        "roles": json.dumps(ROLES),
        "scopes": json.dumps(SCOPES),
        "default_role": "viewer",
        "super_admin_role": "admin",
    }
    values.update(overrides)
    return Auth(AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values))


def make_app(auth: Auth) -> FastAPI:
    app = FastAPI(lifespan=auth.lifespan, exception_handlers=auth.exception_handlers)
    app.include_router(auth.router)

    @app.get("/whoami")
    def whoami(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return {
            "sub": user.sub,
            "kind": user.credential_type,
            "groups": user.groups,
            "scopes": user.scopes,
        }

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, str]:
        return {"ok": user.sub}

    @app.get("/users", dependencies=[Security(require_current_user, scopes=["users.write"])])
    def users() -> dict[str, str]:
        return {"ok": "users"}

    @app.get("/ops", dependencies=[Depends(require_groups("operator"))])
    def ops() -> dict[str, str]:
        return {"ok": "ops"}

    @app.get("/root", dependencies=[Depends(require_groups("root"))])
    def root() -> dict[str, str]:
        return {"ok": "root"}

    @app.get("/both")
    def both(
        user: Annotated[CurrentUser, Depends(authenticate("gateway", "jwt", mode="all"))],
    ) -> dict[str, str]:
        return {"sub": user.sub, "kind": user.credential_type}

    return app


@pytest.fixture(scope="module", autouse=True)
def _close_mangums_loop() -> Iterator[None]:
    """Mangum sets an event loop of its own as the thread's current one and keeps it (a Lambda
    process lives for many invocations); close it after this module's tests."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(scope="module")
def handler(cognito: Cognito) -> Any:
    return mangum.Mangum(make_app(make_auth(cognito)), lifespan="auto")


def mint(cognito: Cognito, **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "8b2a-alice",
        "iss": cognito.pool.issuer,
        "client_id": cognito.pool.client,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:groups": ["operator"],
        "username": "alice",
    }
    claims.update(changes)
    return tw.encode({k: v for k, v in claims.items() if v is not None}, cognito.key)


def as_http_api(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as an HTTP API JWT authorizer passes them: every value a string, lists as
    ``[a b]``."""
    out = {}
    for name, value in claims.items():
        if isinstance(value, list):
            out[name] = "[" + " ".join(str(v) for v in value) + "]"
        else:
            out[name] = str(value)
    return out


def as_rest_api(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as a REST API Cognito authorizer passes them: strings, ``exp`` as a date, groups
    comma-separated."""
    out = {}
    for name, value in claims.items():
        if name in ("exp", "iat", "auth_time"):
            out[name] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(int(value)))
        elif isinstance(value, list):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


def http_api_event(
    path: str, *, claims: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as Lambda receives it."""
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "r3pmxmplak",
        "domainName": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
        "domainPrefix": "r3pmxmplak",
        "http": {
            "method": "GET",
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7",
            "userAgent": "curl/8.5.0",
        },
        "requestId": "JKJaXmPLvHcESHA=",
        "routeKey": "ANY /{proxy+}",
        "stage": "$default",
        "time": "01/Dec/2026:21:00:00 +0000",
        "timeEpoch": 1796158800000,
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": as_http_api(claims), "scopes": None}}
    return {
        "version": "2.0",
        "routeKey": "ANY /{proxy+}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "accept": "*/*",
            "host": "r3pmxmplak.execute-api.us-east-1.amazonaws.com",
            "user-agent": "curl/8.5.0",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
            **(headers or {}),
        },
        "requestContext": context,
        "pathParameters": {"proxy": path.lstrip("/")},
        "isBase64Encoded": False,
    }


def rest_api_event(path: str, *, claims: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway REST API (proxy integration, payload 1.0) event with a Cognito authorizer."""
    headers = {
        "Accept": "*/*",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abcdef1234",
        "httpMethod": "GET",
        "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        "path": "/prod" + path,
        "protocol": "HTTP/1.1",
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "resourceId": "123456",
        "resourcePath": "/{proxy+}",
        "stage": "prod",
    }
    if claims is not None:
        context["authorizer"] = {"claims": as_rest_api(claims)}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": context,
        "body": None,
        "isBase64Encoded": False,
    }


def invoke(handler: Any, event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
    response = handler(event, {})
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), ", ".join(values))
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], body, headers


def claims_of(cognito: Cognito, **changes: Any) -> dict[str, Any]:
    return dict(tw.unverified_claims(cognito.pool.access)) | changes


# --- HTTP API (payload 2.0) -----------------------------------------------------------------------


def test_http_api_claims_are_the_identity(handler: Any, cognito: Cognito) -> None:
    claims = claims_of(cognito)
    status, body, _ = invoke(handler, http_api_event("/whoami", claims=claims))
    assert status == 200, body
    assert body["kind"] == "gateway" and body["sub"] == claims["sub"]
    assert body["groups"] == ["operator"]
    # the token's scope, then the operator role's scopes
    assert body["scopes"] == ["aws.cognito.signin.user.admin", "reports:read", "users.read"]
    assert invoke(handler, http_api_event("/reports", claims=claims))[0] == 200
    assert invoke(handler, http_api_event("/ops", claims=claims))[0] == 200
    status, body, headers = invoke(handler, http_api_event("/users", claims=claims))
    assert status == 403 and "users.write" in body["detail"]
    assert 'scope="users.write"' in headers["www-authenticate"]


def test_http_api_me_route(handler: Any, cognito: Cognito) -> None:
    status, body, _ = invoke(handler, http_api_event("/v1/auth/me", claims=claims_of(cognito)))
    assert status == 200 and body["credential_type"] == "gateway"
    assert body["provider"] == "cognito"


@pytest.mark.parametrize(
    "change",
    [
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
        {"client_id": "another-app"},
        {"token_use": "id"},
        {"exp": 1_000_000_000},
    ],
)
def test_http_api_claims_are_still_checked(handler: Any, cognito: Cognito, change: Any) -> None:
    status, body, headers = invoke(
        handler, http_api_event("/whoami", claims=claims_of(cognito, **change))
    )
    assert status == 401, body
    assert "www-authenticate" in headers


def test_without_authorizer_claims_the_token_is_verified(handler: Any, cognito: Cognito) -> None:
    token = cognito.pool.access
    status, body, _ = invoke(handler, http_api_event("/whoami", headers=bearer(token)))
    assert status == 200 and body["kind"] == "access_token"
    status, _, headers = invoke(
        handler, http_api_event("/whoami", headers=bearer(token[:-4] + "AAAA"))
    )
    assert status == 401 and 'error="invalid_token"' in headers["www-authenticate"]
    status, body, headers = invoke(handler, http_api_event("/whoami"))
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert "API Gateway authorizer" in body["detail"] and "Cognito access token" in body["detail"]


def test_gateway_and_token_both(handler: Any, cognito: Cognito) -> None:
    claims = claims_of(cognito)
    token = cognito.pool.access
    event = http_api_event("/both", claims=claims, headers=bearer(token))
    status, body, _ = invoke(handler, event)
    assert status == 200 and body["kind"] == "gateway"
    assert invoke(handler, http_api_event("/both", claims=claims))[0] == 401
    assert invoke(handler, http_api_event("/both", headers=bearer(token)))[0] == 401


# --- REST API (payload 1.0) -----------------------------------------------------------------------


def test_rest_api_claims_are_the_identity(handler: Any, cognito: Cognito) -> None:
    claims = claims_of(cognito, **{"cognito:groups": ["operator"]})
    status, body, _ = invoke(handler, rest_api_event("/whoami", claims=claims))
    assert status == 200, body
    assert body["kind"] == "gateway" and body["groups"] == ["operator"]
    assert invoke(handler, rest_api_event("/reports", claims=claims))[0] == 200
    expired = claims_of(cognito, exp=int(time.time()) - 60)
    assert invoke(handler, rest_api_event("/whoami", claims=expired))[0] == 401
    assert invoke(handler, rest_api_event("/whoami"))[0] == 401


# --- how each gateway writes cognito:groups -------------------------------------------------------


def test_gateway_groups_are_read_only_when_unambiguous(handler: Any, cognito: Cognito) -> None:
    """Issue 20 item 8: a group named ``tenant-a,root`` (Cognito allows commas in group names)
    never grants ``root``. An HTTP API writes lists as ``[a b]`` (names hold no spaces), which
    reads back exactly, commas included; a REST API joins them with commas, so a REST value
    holding a comma (two groups, or one with a comma) is refused, as is anything malformed."""

    def call(path: str, groups: Any, *, rest: bool = False) -> tuple[int, Any]:
        claims = claims_of(cognito, **{"cognito:groups": groups})
        event = rest_api_event(path, claims=claims) if rest else http_api_event(path, claims=claims)
        status, body, _ = invoke(handler, event)
        return status, body

    # HTTP API (payload 2.0): one group whose name holds a comma stays one group
    status, body = call("/whoami", ["tenant-a,root"])
    assert status == 200 and body["groups"] == ["tenant-a,root"]
    assert body["scopes"] == ["aws.cognito.signin.user.admin", "users.read"]  # default role's
    assert call("/root", ["tenant-a,root"])[0] == 403
    # ... several groups are read as such, brackets and commas inside names too
    assert call("/whoami", ["operator", "[x]", "a,b"])[1]["groups"] == ["operator", "[x]", "a,b"]
    assert call("/whoami", [])[1]["groups"] == []
    assert call("/root", ["operator", "root"])[0] == 200
    # ... and what is not the HTTP API's form is refused
    for raw in ("root", "[operator  root]", "[operator\troot]", "[tenant-a,root", ""):
        assert call("/whoami", raw)[0] == 401, raw
        assert call("/root", raw)[0] == 401, raw
    # REST API: one group reads as itself; a comma cannot be told apart, so it is refused
    for groups in (["tenant-a,root"], ["operator", "root"]):
        assert call("/whoami", groups, rest=True)[0] == 401, groups
        assert call("/root", groups, rest=True)[0] == 401, groups
    status, body = call("/whoami", ["[root]"], rest=True)
    assert status == 200 and body["groups"] == ["[root]"]
    assert call("/root", ["[root]"], rest=True)[0] == 403


# --- roles from cognito:groups --------------------------------------------------------------------


def test_default_role_and_super_admin(handler: Any, cognito: Cognito) -> None:
    nobody = claims_of(cognito, **{"cognito:groups": ["staff"]})
    status, body, _ = invoke(handler, http_api_event("/whoami", claims=nobody))
    assert status == 200 and body["scopes"] == ["aws.cognito.signin.user.admin", "users.read"]
    assert invoke(handler, http_api_event("/reports", claims=nobody))[0] == 403
    admin = claims_of(cognito, **{"cognito:groups": ["admin"]})
    status, body, _ = invoke(handler, http_api_event("/whoami", claims=admin))
    assert set(body["scopes"]) == set(SCOPES)
    assert invoke(handler, http_api_event("/users", claims=admin))[0] == 200


def test_groups_that_are_not_strings_make_the_token_invalid(cognito: Cognito) -> None:
    auth = make_auth(cognito)
    with TestClient(make_app(auth)) as client:
        good = client.get("/whoami", headers=bearer(mint(cognito)))
        assert good.status_code == 200 and good.json()["groups"] == ["operator"]
        for groups in ([1, "root"], "root", [["root"]], [None]):
            response = client.get(
                "/whoami", headers=bearer(mint(cognito, **{"cognito:groups": groups}))
            )
            assert response.status_code == 401, groups
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
            assert (
                client.get(
                    "/ops", headers=bearer(mint(cognito, **{"cognito:groups": groups}))
                ).status_code
                == 401
            )


# --- the setting ----------------------------------------------------------------------------------


def test_the_gateway_comes_first_by_default(cognito: Cognito) -> None:
    auth = make_auth(cognito, auth_strategies="jwt")
    assert auth.default_strategies == ("gateway", "jwt")
    assert make_auth(cognito, trust_gateway_claims=False).default_strategies == ("jwt",)
    assert auth.cognito is not None and auth.cognito.trust_gateway


def test_without_the_setting_gateway_claims_are_ignored(cognito: Cognito) -> None:
    auth = make_auth(cognito, trust_gateway_claims=False)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/whoami")
    def whoami(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, str]:
        return {"kind": user.credential_type}

    plain = mangum.Mangum(app, lifespan="auto")
    status, _, _ = invoke(plain, http_api_event("/whoami", claims=claims_of(cognito)))
    assert status == 401
    token = cognito.pool.access
    assert invoke(plain, http_api_event("/whoami", headers=bearer(token)))[1] == {
        "kind": "access_token"
    }


def test_gateway_routes_need_the_setting(cognito: Cognito) -> None:
    auth = make_auth(cognito, trust_gateway_claims=False)
    with pytest.raises(
        ConfigurationError, match=r"/both: the strategy 'gateway'.*TRUST_GATEWAY_CLAIMS"
    ):
        auth.install(make_app(auth))


def test_the_custom_provider_refuses_the_setting() -> None:
    with pytest.raises(ConfigurationError, match="TRUST_GATEWAY_CLAIMS=true needs"):
        AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ISOLATED_", auth_secret="x" * 40, trust_gateway_claims=True
        ).check()


def test_openapi_of_a_cognito_app_lists_the_declared_scopes(cognito: Cognito) -> None:
    with TestClient(make_app(make_auth(cognito))) as client:
        doc = client.get("/openapi.json").json()
    scheme = doc["components"]["securitySchemes"]["tokenward"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    for scope, text in SCOPES.items():
        assert f"- `{scope}`: {text}" in scheme["description"]
    assert {"401", "403"} <= set(doc["paths"]["/both"]["get"]["responses"])
