"""Strategies over HTTP: authenticate(...) any and all, AUTH_STRATEGIES, HTTP Basic, a
third-party issuer, public(), the route report and what OpenAPI says of each route.

No ``from __future__ import annotations`` here: the routes are built inside a function, and
their annotations must be evaluated where the strategies they name are in scope."""

import base64
import time
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Security

import tokenward as tw
from _fastapi_support import SECRET, Clock, TestClient, bearer, login
from tokenward.exceptions import AuthorizationError, ConfigurationError
from tokenward.fastapi import (
    Auth,
    AuthSettings,
    CurrentUser,
    Principal,
    VerifierStrategy,
    authenticate,
    optional_current_user,
    public,
    require_current_user,
    require_groups,
    route_report,
)
from tokenward.strategies import Credentials

PARTNER = "https://partner.example"
REALM = 'Basic realm="ops", charset="UTF-8"'
INVALID = 'Bearer error="invalid_token", error_description="The access token is not valid"'
USERS = {"ada": "correct horse", "zoë": "pässwörd"}


async def check_basic(username: str, password: str) -> Principal | None:
    """The application's HTTP Basic check (a real one would look the user up)."""
    if USERS.get(username) != password:
        return None
    return Principal(subject="user:" + username, credential_type="basic", groups=("ops",))


class AddressAllowList:
    """A strategy of the application's own: requests from known client addresses. It reads no
    header, so it combines with a token in ``mode="all"`` (a token *and* a known network)."""

    name = "allow_list"
    hint = "a request from an allowed network"
    scheme = None

    def __init__(self, *addresses: str) -> None:
        self.addresses = frozenset(addresses)

    def challenge(self, error: Any) -> str | None:
        return None

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        if credentials.client_address in self.addresses:
            return Principal(
                subject="net:" + str(credentials.client_address), credential_type="basic"
            )
        return None


def basic(user: str, password: str) -> dict[str, str]:
    raw = f"{user}:{password}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture(scope="module")
def partner_key() -> tw.JWK:
    return tw.JWK.generate("ES256")


@pytest.fixture(scope="module")
def partner(partner_key: tw.JWK) -> VerifierStrategy:
    verifier = tw.Verifier(partner_key.public(), algorithms=["ES256"], issuer=PARTNER)
    return VerifierStrategy(verifier, name="partner", issuer=PARTNER)


def partner_token(key: tw.JWK, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": PARTNER, "sub": "svc-7", "iat": now, "exp": now + 300, "scope": "sync"}
    return tw.encode(body | claims, key)


def settings(**overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "auth_secret": SECRET,
        "debug_scopes": "reports:read",
        "basic_realm": "ops",
    }
    values.update(overrides)
    return AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **values)


def build(partner: VerifierStrategy, **overrides: Any) -> tuple[FastAPI, Auth]:
    clock = Clock(time.time())
    auth = Auth(settings(**overrides), basic=check_basic, clock=clock)
    app = FastAPI(lifespan=auth.lifespan)
    auth.install(app)
    app.include_router(auth.router)
    allow = AddressAllowList("testclient")

    def who(user: CurrentUser | None) -> dict[str, Any]:
        if user is None:
            return {"sub": None}
        return {"sub": user.sub, "kind": user.credential_type, "provider": user.provider}

    @app.get("/default")
    def default(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return who(user)

    @app.get("/jwt-or-basic")
    def jwt_or_basic(user: Annotated[CurrentUser, Depends(authenticate("jwt", "basic"))]) -> Any:
        return who(user)

    @app.get("/basic-only")
    async def basic_only(user: Annotated[CurrentUser, Depends(authenticate("basic"))]) -> Any:
        return who(user)

    @app.get("/partner")
    def partner_route(user: Annotated[CurrentUser, Depends(authenticate("jwt", partner))]) -> Any:
        return who(user)

    @app.get("/partner-scoped")
    def partner_scoped(
        user: Annotated[CurrentUser, Security(authenticate(partner, "basic"), scopes=["sync"])],
    ) -> Any:
        return who(user)

    @app.get("/token-and-network")
    def token_and_network(
        user: Annotated[CurrentUser, Depends(authenticate("jwt", allow, mode="all"))],
    ) -> Any:
        return who(user)

    @app.get("/token-and-elsewhere")
    def token_and_elsewhere(
        user: Annotated[
            CurrentUser,
            Depends(authenticate("jwt", AddressAllowList("192.0.2.1"), mode="all")),
        ],
    ) -> Any:
        return who(user)

    @app.get("/optional")
    def optional(user: Annotated[CurrentUser | None, Depends(optional_current_user)]) -> Any:
        return who(user)

    @app.get("/ops", dependencies=[Depends(require_groups("ops"))])
    def ops() -> dict[str, str]:
        return {"ok": "ops"}

    @app.get("/raises")
    def raises(user: Annotated[CurrentUser, Depends(require_current_user)]) -> Any:
        if "billing.admin" not in user.scopes:
            raise AuthorizationError(
                "no billing", subject=user.sub, missing_scopes=("billing.admin",)
            )
        return who(user)

    router = APIRouter(prefix="/private", dependencies=[Depends(require_current_user)])

    @router.get("/data")
    def data() -> dict[str, str]:
        return {"ok": "data"}

    @router.get("/status", dependencies=[Depends(public())])
    def status(user: Annotated[CurrentUser | None, Depends(require_current_user)]) -> Any:
        return who(user)

    app.include_router(router)

    @app.get("/open")
    def open_route() -> dict[str, str]:
        return {"ok": "open"}

    return app, auth


@pytest.fixture(scope="module")
def app_auth(partner: VerifierStrategy) -> tuple[FastAPI, Auth]:
    return build(partner)


@pytest.fixture(scope="module")
def client(app_auth: tuple[FastAPI, Auth]) -> Iterator[TestClient]:
    with TestClient(app_auth[0]) as c:
        yield c


@pytest.fixture(scope="module")
def token(client: TestClient) -> str:
    return str(login(client)["access_token"])


def challenges(response: Any) -> list[str]:
    """The WWW-Authenticate challenges, split where a new scheme starts."""
    header = response.headers.get("www-authenticate", "")
    out: list[str] = []
    for part in header.split(", "):
        if part.split(" ", 1)[0] in ("Bearer", "Basic") or not out:
            out.append(part)
        else:
            out[-1] += ", " + part
    return out


# --- any ----------------------------------------------------------------------------------------


def test_any_accepts_either_credential(client: TestClient, token: str) -> None:
    by_token = client.get("/jwt-or-basic", headers=bearer(token)).json()
    assert by_token["kind"] == "access_token" and by_token["provider"] == "custom"
    by_password = client.get("/jwt-or-basic", headers=basic("ada", "correct horse")).json()
    assert by_password == {"sub": "user:ada", "kind": "basic", "provider": None}
    utf8 = client.get("/jwt-or-basic", headers=basic("zoë", "pässwörd"))
    assert utf8.status_code == 200 and utf8.json()["sub"] == "user:zoë"


def test_any_without_credentials_names_every_strategy(client: TestClient) -> None:
    for headers in ({}, {"Authorization": "Digest abc"}):
        response = client.get("/jwt-or-basic", headers=headers)
        assert response.status_code == 401
        assert challenges(response) == ["Bearer", REALM]
        detail = response.json()["detail"]
        assert "access token" in detail and "HTTP Basic" in detail


def test_any_bad_token_is_the_tokens_answer(client: TestClient) -> None:
    response = client.get("/jwt-or-basic", headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert challenges(response) == [INVALID, REALM]
    detail = response.json()["detail"]
    assert "access token is not valid" in detail and "HTTP Basic" in detail


def test_any_wrong_password_is_the_basic_answer(client: TestClient) -> None:
    for headers in (
        basic("ada", "wrong"),
        basic("nobody", "correct horse"),
        {"Authorization": "Basic bm8tY29sb24="},  # "no-colon"
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode("zoë:x".encode("latin-1")).decode()},
    ):
        response = client.get("/jwt-or-basic", headers=headers)
        assert response.status_code == 401, headers
        assert challenges(response) == ["Bearer", REALM]
        assert "access token" in response.json()["detail"]


def test_basic_alone(client: TestClient, token: str) -> None:
    assert client.get("/basic-only", headers=basic("ada", "correct horse")).status_code == 200
    refused = client.get("/basic-only", headers=bearer(token))  # another scheme: no credentials
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == REALM
    assert "HTTP Basic" in refused.json()["detail"]
    wrong = client.get("/basic-only", headers=basic("ada", "nope"))
    assert wrong.status_code == 401 and wrong.json()["detail"] == "Incorrect user name or password."


def test_a_third_party_issuer(client: TestClient, token: str, partner_key: tw.JWK) -> None:
    theirs = partner_token(partner_key)
    answer = client.get("/partner", headers=bearer(theirs)).json()
    assert answer == {"sub": "svc-7", "kind": "access_token", "provider": "partner"}
    assert client.get("/partner", headers=bearer(token)).json()["provider"] == "custom"
    # the partner's issuer with another key: the partner strategy's refusal
    forged = client.get("/partner", headers=bearer(partner_token(tw.JWK.generate("ES256"))))
    assert forged.status_code == 401 and challenges(forged) == [INVALID]
    # a token no strategy of the route serves
    stranger = client.get("/partner", headers=bearer(partner_token(partner_key, iss="https://x")))
    assert stranger.status_code == 401 and challenges(stranger) == [INVALID]
    # the app-wide default does not take the partner's tokens
    assert client.get("/default", headers=bearer(theirs)).status_code == 401


def test_scopes_of_a_strategy_route(client: TestClient, partner_key: tw.JWK) -> None:
    assert (
        client.get("/partner-scoped", headers=bearer(partner_token(partner_key))).status_code == 200
    )
    short = client.get("/partner-scoped", headers=bearer(partner_token(partner_key, scope="x")))
    assert short.status_code == 403
    assert 'scope="sync"' in short.headers["www-authenticate"]
    assert "sync" in short.json()["detail"]
    no_scope = client.get("/partner-scoped", headers=basic("ada", "correct horse"))
    assert no_scope.status_code == 403


# --- all ----------------------------------------------------------------------------------------


def test_all_needs_every_strategy_and_keeps_the_first_identity(
    client: TestClient, token: str
) -> None:
    answer = client.get("/token-and-network", headers=bearer(token)).json()
    assert answer["kind"] == "access_token" and answer["sub"] != "net:testclient"
    missing = client.get("/token-and-elsewhere", headers=bearer(token))
    assert missing.status_code == 401
    assert "a request from an allowed network is missing" in missing.json()["detail"]
    nothing = client.get("/token-and-network")
    assert nothing.status_code == 401 and challenges(nothing) == ["Bearer"]
    bad = client.get("/token-and-network", headers=bearer("x.y.z"))
    assert bad.status_code == 401 and challenges(bad) == [INVALID]


# --- the app-wide default (AUTH_STRATEGIES) -------------------------------------------------------


def test_the_default_is_an_access_token_or_an_api_key(app_auth: tuple[FastAPI, Auth]) -> None:
    _, auth = app_auth
    assert auth.settings.strategies == ("jwt", "api_key")
    assert auth.default_strategies == ("jwt", "api_key")
    assert [s.name for s in auth.authenticator(None).strategies] == ["jwt", "api_key"]


def test_default_strategies_of_the_default_route(client: TestClient, token: str) -> None:
    assert client.get("/default", headers=bearer(token)).status_code == 200
    refused = client.get("/default", headers=basic("ada", "correct horse"))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"


def test_auth_strategies_setting_adds_basic_app_wide(partner: VerifierStrategy) -> None:
    app, auth = build(partner, auth_strategies="jwt,api_key,basic")
    assert auth.default_strategies == ("jwt", "api_key", "basic")
    with TestClient(app) as client:
        token = login(client)["access_token"]
        assert (
            client.get("/default", headers=basic("ada", "correct horse")).json()["kind"] == "basic"
        )
        assert client.get("/default", headers=bearer(token)).json()["kind"] == "access_token"
        assert client.get("/ops", headers=basic("ada", "correct horse")).status_code == 200
        nothing = client.get("/default")
        assert challenges(nothing) == ["Bearer", REALM]
        optional = client.get("/optional", headers=basic("ada", "nope"))
        assert optional.status_code == 401  # sent and wrong: never anonymous
        assert client.get("/optional").json() == {"sub": None}


def test_auth_strategies_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENWARD_TEST_ENV_STRATEGIES_AUTH_STRATEGIES", "basic, jwt")
    monkeypatch.setenv("TOKENWARD_TEST_ENV_STRATEGIES_AUTH_SECRET", SECRET)
    auth = Auth.from_env(prefix="TOKENWARD_TEST_ENV_STRATEGIES_", basic=check_basic)
    assert auth.default_strategies == ("basic", "jwt")


@pytest.mark.parametrize(
    ("strategies", "message"),
    [
        ("jwt,basic", "pass Auth\\(settings, basic=check\\)"),
        ("jwt,gateway", "TRUST_GATEWAY_CLAIMS"),
        ("jwt,ldap", "must list strategies"),
    ],
)
def test_unavailable_default_strategies_stop_start_up(strategies: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Auth(settings(auth_strategies=strategies))


def test_authenticate_refuses_bad_arguments() -> None:
    with pytest.raises(ConfigurationError):
        authenticate()
    with pytest.raises(ConfigurationError, match="unknown strategy"):
        authenticate("ldap")
    with pytest.raises(ConfigurationError, match="mode"):
        authenticate("jwt", mode="most")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        authenticate("jwt", object())  # type: ignore[arg-type]


def test_a_route_needing_a_missing_strategy_stops_start_up() -> None:
    auth = Auth(settings())  # no basic= check
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/legacy")
    def legacy(user: Annotated[CurrentUser, Depends(authenticate("jwt", "basic"))]) -> None: ...

    with pytest.raises(ConfigurationError, match="/legacy: the strategy 'basic'"):
        auth.install(app)
    with pytest.raises(ConfigurationError, match="/legacy"), TestClient(app):
        pass


# --- public routes and the report ----------------------------------------------------------------


def test_public_marks_a_route_under_a_protecting_router(client: TestClient, token: str) -> None:
    assert client.get("/private/data").status_code == 401
    assert client.get("/private/data", headers=bearer(token)).status_code == 200
    assert client.get("/private/status").json() == {"sub": None}
    signed_in = client.get("/private/status", headers=bearer(token)).json()
    assert signed_in["kind"] == "access_token"
    # credentials that are sent are still checked
    assert client.get("/private/status", headers=bearer("x.y.z")).status_code == 401
    assert client.get("/open").status_code == 200


def test_route_report(app_auth: tuple[FastAPI, Auth]) -> None:
    app, auth = app_auth
    report = {info.path: info for info in auth.route_report(app)}
    assert report == {info.path: info for info in route_report(app)}
    expected = {
        "/v1/auth/login": "public (marked)",
        "/v1/auth/refresh": "public (marked)",
        "/v1/auth/logout": "public (marked)",
        "/v1/auth/me": "protected",
        "/v1/auth/sessions": "protected",
        "/v1/auth/sessions/{session_id}": "protected",
        "/default": "protected",
        "/jwt-or-basic": "protected",
        "/basic-only": "protected",
        "/partner": "protected",
        "/partner-scoped": "protected",
        "/token-and-network": "protected",
        "/token-and-elsewhere": "protected",
        "/optional": "optional",
        "/ops": "protected",
        "/raises": "protected",
        "/private/data": "protected",
        "/private/status": "public (marked)",
        "/open": "public",
    }
    # The account, second-factor and passkey routes on the auth router: the
    # ways of signing in are public (marked); what acts on a signed-in user is protected.
    signing_in = {
        "signup",
        "verify-email",
        "forgot-password",
        "reset-password",
        "mfa/challenge",
        "passkeys/authenticate/options",
        "passkeys/authenticate",
    }  # (the external sign-in routes only exist when OAUTH_PROVIDERS names a provider)
    signed_in = {
        "resend-verification",
        "change-password",
        "mfa/totp",
        "mfa/totp/confirm",
        "mfa/step-up",
        "passkeys",
        "passkeys/register/options",
        "passkeys/register",
        "passkeys/{credential_id}",
    }
    expected |= {f"/v1/auth/{path}": "public (marked)" for path in signing_in}
    expected |= {f"/v1/auth/{path}": "protected" for path in signed_in}
    assert {path: info.protection for path, info in report.items()} == expected
    assert report["/default"].strategies == ("default",)
    assert report["/jwt-or-basic"].strategies == ("jwt", "basic")
    assert report["/partner"].strategies == ("jwt", "partner")
    assert report["/partner-scoped"].scopes == ("sync",)
    assert report["/ops"].groups == ("ops",)
    assert report["/ops"].methods == ("GET",)
    assert report["/open"].to_json() == {
        "methods": ["GET"],
        "path": "/open",
        "protection": "public",
        "strategies": [],
        "scopes": [],
        "groups": [],
    }


def test_openapi_documents_every_protected_route(client: TestClient, app_auth: Any) -> None:
    app, auth = app_auth
    doc = client.get("/openapi.json").json()
    for info in auth.route_report(app):
        operation = doc["paths"][info.path][info.methods[0].lower()]
        responses = operation["responses"]
        if info.protection == "protected":
            assert {"401", "403"} <= set(responses), info.path
            assert operation["security"], info.path
            assert {} not in operation["security"], info.path
        elif info.protection == "optional" or (
            info.protection == "public (marked)"
            and info.path.startswith(("/private/", "/v1/auth/passkeys/authenticate"))
        ):  # optional auth, public() under a protecting router, or a passkey ceremony (a
            # sign-in, or with credentials a step-up): credentials stay optional
            assert "401" in responses and {} in operation["security"], info.path
        elif info.protection == "public (marked)":  # signing in: public, nothing to present
            assert "security" not in operation, info.path
        else:
            assert "security" not in operation, info.path
    both = doc["paths"]["/jwt-or-basic"]["get"]["security"]
    assert {"tokenward": []} in both and {"tokenward_basic": []} in both
    assert doc["paths"]["/basic-only"]["get"]["security"] == [{"tokenward_basic": []}]
    assert doc["components"]["securitySchemes"]["tokenward_basic"]["scheme"] == "basic"


# --- AuthorizationError from application code -----------------------------------------------------


def test_authorization_error_raised_by_a_route_is_a_403(client: TestClient, token: str) -> None:
    response = client.get("/raises", headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the scopes: billing.admin."}
    challenge = response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="billing.admin"' in challenge


def test_public_given_to_include_router_agrees_with_the_report() -> None:
    auth = Auth(settings())
    app = FastAPI(lifespan=auth.lifespan)
    protected = APIRouter(dependencies=[Depends(require_current_user)])

    @protected.get("/health")
    def health() -> dict[str, str]:
        return {"ok": "health"}

    app.include_router(protected, prefix="/open", dependencies=[Depends(public())])
    app.include_router(protected, prefix="/closed")
    report = {info.path: info.protection for info in auth.route_report(app)}
    assert report == {"/open/health": "public (marked)", "/closed/health": "protected"}
    with TestClient(app) as client:
        assert client.get("/open/health").status_code == 200
        assert client.get("/open/health", headers=bearer("x.y.z")).status_code == 401
        assert client.get("/closed/health").status_code == 401


def test_api_key_routes_need_the_api_key_strategy() -> None:
    """Under Cognito without AUTH_SECRET the api_key strategy does not exist, so a route that
    asks for it stops start-up, naming the route."""
    auth = Auth(
        AuthSettings.from_env(
            prefix="TOKENWARD_TEST_ISOLATED_",
            auth_provider="cognito",
            cognito_region="eu-west-1",
            cognito_user_pool_id="eu-west-1_Keys",
            cognito_app_client_id="client",
        )
    )
    app = FastAPI()

    @app.get("/keys-only")
    def keys_only(user: Annotated[CurrentUser, Depends(authenticate("api_key"))]) -> None: ...

    with pytest.raises(ConfigurationError, match="/keys-only: the strategy 'api_key'"):
        auth.install(app)
    Auth(settings()).install(app)  # the custom provider has API keys: no complaint
