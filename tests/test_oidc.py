"""Any OpenID Connect issuer (issue 24): discovery, the verifier, AUTH_PROVIDER=oidc, claim
mapping, several issuers at once. The issuer is a real HTTP server on loopback
(tests/oidc_server.py)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

import tokenward as tw
from oidc_server import DISCOVERY, IssuerServer
from tokenward.exceptions import (
    ConfigurationError,
    InvalidAudienceError,
    InvalidClaimError,
    InvalidIssuerError,
    KeySetUnavailableError,
)
from tokenward.jwks import _FetchError
from tokenward.oidc import ClaimMapping, OidcDiscovery, OidcIssuer, OidcVerifier, claim_at

AUD = "api://orders"


@pytest.fixture
def issuer() -> Iterator[IssuerServer]:
    server = IssuerServer(path="/realms/shop").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def other() -> Iterator[IssuerServer]:
    server = IssuerServer(path="/tenant-b").start()
    try:
        yield server
    finally:
        server.stop()


def verifier(*servers: IssuerServer, **options: Any) -> OidcVerifier:
    issuers = [OidcIssuer(issuer=s.issuer, audience=(AUD,)) for s in servers]
    return OidcVerifier(issuers=issuers, cooldown=0, **options)


# --- discovery --------------------------------------------------------------------------------


def test_discovery_finds_the_keys_once(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    token = issuer.sign({"aud": AUD})
    assert oidc.verify(token)["sub"] == "user-1"
    assert oidc.verify(token)["sub"] == "user-1"
    assert issuer.count("/realms/shop" + DISCOVERY) == 1
    assert issuer.count("/jwks") == 1
    source = oidc.key_sets[0]
    assert isinstance(source, OidcDiscovery)
    assert source.jwks_uri == issuer.base + "/jwks"


def test_discovery_async(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    token = issuer.sign({"aud": [AUD, "other"]})
    claims = asyncio.run(oidc.verify_async(token))
    assert claims["aud"] == [AUD, "other"]


def test_a_rotated_key_is_fetched_from_the_discovered_jwks_uri(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    oidc.prefetch()
    issuer.keys = [tw.JWK.generate("ES256"), *issuer.keys]  # the provider rotates
    token = issuer.sign({"aud": AUD})
    assert oidc.verify(token)["iss"] == issuer.issuer
    assert issuer.count("/realms/shop" + DISCOVERY) == 1  # the document is not read again
    assert issuer.count("/jwks") == 2


def test_a_burst_on_a_cold_verifier_reads_the_document_and_the_keys_once(
    issuer: IssuerServer,
) -> None:
    """Concurrent first requests (coroutines, then threads on a second verifier) share one
    discovery and one key fetch."""
    token = issuer.sign({"aud": AUD})
    oidc = verifier(issuer)

    async def burst() -> list[dict[str, Any]]:
        return await asyncio.gather(*(oidc.verify_async(token) for _ in range(50)))

    assert all(c["sub"] == "user-1" for c in asyncio.run(burst()))
    assert issuer.count("/realms/shop" + DISCOVERY) == 1 and issuer.count("/jwks") == 1
    threaded = verifier(issuer)
    barrier = threading.Barrier(16)

    def one() -> str:
        barrier.wait()
        return str(threaded.verify(token)["sub"])

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert set(pool.map(lambda _: one(), range(16))) == {"user-1"}
    assert issuer.count("/realms/shop" + DISCOVERY) == 2 and issuer.count("/jwks") == 2


def test_one_issuer_down_does_not_stop_the_other(issuer: IssuerServer, other: IssuerServer) -> None:
    other.discovery = "500"
    oidc = verifier(issuer, other, retries=0)
    with pytest.raises(KeySetUnavailableError):
        oidc.prefetch()  # tries both, reports the one that failed
    assert issuer.count("/jwks") == 1
    assert oidc.verify(issuer.sign({"aud": AUD}))["iss"] == issuer.issuer
    with pytest.raises(KeySetUnavailableError):
        oidc.verify(other.sign({"aud": AUD}))


def test_discovery_down_is_unavailable_never_invalid(issuer: IssuerServer) -> None:
    issuer.discovery = "500"
    oidc = verifier(issuer, retries=0)
    token = issuer.sign({"aud": AUD})
    with pytest.raises(KeySetUnavailableError):
        oidc.verify(token)
    issuer.discovery = "ok"  # it comes back: the next request (cooldown 0) discovers
    assert oidc.verify(token)["sub"] == "user-1"


def test_a_document_naming_another_issuer_is_refused_with_a_clear_log(
    issuer: IssuerServer, caplog: pytest.LogCaptureFixture
) -> None:
    issuer.document_issuer = "https://evil.example/"
    oidc = verifier(issuer, retries=0)
    with caplog.at_level(logging.ERROR, logger="tokenward.jwks"):
        with pytest.raises(KeySetUnavailableError, match="names the issuer"):
            oidc.verify(issuer.sign({"aud": AUD}))
    assert "https://evil.example/" in caplog.text and issuer.issuer in caplog.text
    assert issuer.count("/jwks") == 0  # the keys it names are never fetched


def test_a_huge_document_is_refused(issuer: IssuerServer) -> None:
    issuer.discovery = "huge"
    oidc = verifier(issuer, retries=0)
    with pytest.raises(KeySetUnavailableError, match="over"):
        oidc.verify(issuer.sign({"aud": AUD}))


def test_https_is_required_except_on_loopback() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        OidcIssuer(issuer="http://idp.example.com/realms/x", audience=(AUD,))
    for host in ("127.0.0.1", "127.8.9.1", "[::1]", "localhost"):
        OidcIssuer(issuer=f"http://{host}:8080/realms/x", audience=(AUD,))
    OidcIssuer(issuer="https://idp.example.com/realms/x", audience=(AUD,))


def test_a_jwks_uri_in_plain_http_elsewhere_is_refused(issuer: IssuerServer) -> None:
    source = OidcDiscovery(issuer.base + "/realms/shop" + DISCOVERY, issuer=issuer.issuer)
    with pytest.raises(_FetchError, match="plain http"):
        source._read_document(
            json.dumps({"issuer": issuer.issuer, "jwks_uri": "http://keys.example.com/k"}).encode()
        )
    with pytest.raises(_FetchError, match="not JSON"):
        source._read_document(b"<html>")


# --- the verifier's checks --------------------------------------------------------------------


def test_aud_string_or_array_must_name_the_audience(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    oidc.verify(issuer.sign({"aud": AUD}))
    oidc.verify(issuer.sign({"aud": ["x", AUD]}))
    with pytest.raises(InvalidAudienceError):
        oidc.verify(issuer.sign({"aud": "api://another"}))
    with pytest.raises(tw.InvalidTokenError):
        oidc.verify(issuer.sign({}))  # no aud at all


def test_times_with_leeway(issuer: IssuerServer) -> None:
    token = issuer.sign({"aud": AUD}, exp=1_000_000, iat=999_000, nbf=999_000)
    with pytest.raises(tw.ExpiredTokenError):
        verifier(issuer).verify(token, now=1_000_010)
    assert verifier(issuer, leeway=30).verify(token, now=1_000_010)["exp"] == 1_000_000
    with pytest.raises(tw.InvalidTokenError):
        verifier(issuer, leeway=30).verify(token, now=998_900)  # not yet valid


def test_an_unknown_iss_is_refused_without_any_fetch(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    token = issuer.sign({"aud": AUD}, iss="https://unknown.example/")
    with pytest.raises(InvalidIssuerError):
        oidc.verify(token)
    assert issuer.requests == {}


def test_an_hmac_token_is_refused(issuer: IssuerServer) -> None:
    oidc = verifier(issuer)
    oidc.prefetch()
    secret = tw.JWK.from_secret(b"k" * 32, "HS256")
    token = issuer.sign({"aud": AUD}, key=secret)
    with pytest.raises(tw.InvalidTokenError):
        oidc.verify(token)


def test_the_iss_of_another_issuer_picks_that_issuers_keys_only(
    issuer: IssuerServer, other: IssuerServer
) -> None:
    oidc = verifier(issuer, other)
    assert oidc.verify(issuer.sign({"aud": AUD}))["iss"] == issuer.issuer
    assert oidc.verify(other.sign({"aud": AUD}))["iss"] == other.issuer
    # Signed with the first issuer's key, naming the second: checked with the second's keys.
    forged = issuer.sign({"aud": AUD}, iss=other.issuer)
    with pytest.raises(tw.InvalidTokenError):
        oidc.verify(forged)
    assert issuer.count("/jwks") == 1


def test_one_issuer_given_twice_is_refused(issuer: IssuerServer) -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        verifier(issuer, issuer)


def test_an_audience_is_required() -> None:
    with pytest.raises(ConfigurationError, match="audience"):
        OidcIssuer(issuer="https://idp.example.com/", audience=())


# --- claim mapping ----------------------------------------------------------------------------


def test_claim_paths() -> None:
    claims = {"realm_access": {"roles": ["a"]}, "https://x.example/roles": ["r"]}
    assert claim_at(claims, "realm_access.roles") == ["a"]
    assert claim_at(claims, "https://x.example/roles") == ["r"]
    assert claim_at(claims, "realm_access.missing") is None
    assert claim_at(claims, "nothing") is None


def test_groups_roles_and_scopes_become_the_principal(issuer: IssuerServer) -> None:
    mapping = ClaimMapping(groups_claim="groups", roles_claim="realm_access.roles")
    oidc = OidcVerifier(issuers=[OidcIssuer(issuer=issuer.issuer, audience=(AUD,), claims=mapping)])
    claims = oidc.verify(
        issuer.sign(
            {
                "aud": AUD,
                "groups": ["staff"],
                "realm_access": {"roles": ["admin", "staff"]},
                "scope": "orders.read orders.write",
                "scp": ["orders.read", "profile"],
                "email": "u@example.com",
            }
        )
    )
    who = oidc.identity(claims)
    assert who.subject == "user-1" and who.provider == "oidc"
    assert who.groups == ("staff", "admin")
    assert who.scopes == ("orders.read", "orders.write", "profile")
    assert who.email == "u@example.com"


@pytest.mark.parametrize(
    "claims",
    [{"groups": [1, "root"]}, {"groups": "root"}, {"scp": ["a", 2]}, {"groups": {"a": 1}}],
)
def test_a_group_or_scope_that_is_not_a_string_refuses_the_token(
    issuer: IssuerServer, claims: dict[str, Any]
) -> None:
    oidc = verifier(issuer)
    verified = oidc.verify(issuer.sign({"aud": AUD, **claims}))
    with pytest.raises(InvalidClaimError):
        oidc.identity(verified)


# --- AUTH_PROVIDER=oidc -----------------------------------------------------------------------

fastapi = pytest.importorskip("fastapi")

from fastapi import Depends, FastAPI, Security  # noqa: E402

from _fastapi_support import TestClient  # noqa: E402
from tokenward.fastapi import (  # noqa: E402
    Auth,
    AuthSettings,
    CurrentUser,
    require_current_user,
    require_groups,
)


def make_auth(**values: Any) -> Auth:
    base: dict[str, Any] = {"auth_provider": "oidc", "environment": "production"}
    base.update(values)
    return Auth(AuthSettings.from_env(prefix="TOKENWARD_TEST_ISOLATED_", **base))


def make_app(auth: Auth) -> FastAPI:
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    def me(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return {"sub": user.sub, "groups": list(user.groups), "scopes": list(user.scopes)}

    @app.get("/admin", dependencies=[Depends(require_groups("admin"))])
    def admin() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/reports")
    def reports(
        user: Annotated[CurrentUser, Security(require_current_user, scopes=["reports:read"])],
    ) -> dict[str, str]:
        return {"sub": user.sub}

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_auth_provider_oidc_end_to_end(issuer: IssuerServer) -> None:
    auth = make_auth(
        oidc_issuer=issuer.issuer,
        oidc_audience=AUD,
        oidc_preset="keycloak",
        roles='{"admin": ["reports:read"]}',
    )
    with TestClient(make_app(auth)) as client:
        user = issuer.sign({"aud": AUD, "scope": "profile"})
        admin = issuer.sign({"aud": AUD, "realm_access": {"roles": ["admin"]}})
        answer = client.get("/me", headers=bearer(user))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"sub": "user-1", "groups": [], "scopes": ["profile"]}
        assert client.get("/admin", headers=bearer(user)).status_code == 403
        assert client.get("/admin", headers=bearer(admin)).status_code == 200
        assert client.get("/reports", headers=bearer(user)).status_code == 403
        assert client.get("/reports", headers=bearer(admin)).status_code == 200  # role → scope
        wrong = issuer.sign({"aud": "api://another"})
        assert client.get("/me", headers=bearer(wrong)).status_code == 401
        stranger = issuer.sign({"aud": AUD}, iss="https://stranger.example/")
        assert client.get("/me", headers=bearer(stranger)).status_code == 401


def test_discovery_down_at_start_gives_503_until_it_works(issuer: IssuerServer) -> None:
    issuer.discovery = "500"
    auth = make_auth(oidc_issuer=issuer.issuer, oidc_audience=AUD)
    token = issuer.sign({"aud": AUD})
    with TestClient(make_app(auth)) as client:  # the app starts anyway
        for _ in range(3):
            answer = client.get("/me", headers=bearer(token))
            assert answer.status_code == 503, answer.text
        issuer.discovery = "ok"
        # The default cooldown (30 s) holds the next attempt back; a forced refresh stands for
        # the time passing.
        assert auth.oidc is not None
        auth.oidc.prefetch()
        assert client.get("/me", headers=bearer(token)).status_code == 200


def test_a_wrong_issuer_in_the_document_gives_503_never_401(issuer: IssuerServer) -> None:
    issuer.document_issuer = issuer.issuer + "-other"
    auth = make_auth(oidc_issuer=issuer.issuer, oidc_audience=AUD)
    with TestClient(make_app(auth)) as client:
        answer = client.get("/me", headers=bearer(issuer.sign({"aud": AUD})))
        assert answer.status_code == 503


def test_oidc_issuers_json_list_each_with_its_own_shape(
    issuer: IssuerServer, other: IssuerServer
) -> None:
    issuers = [
        {"issuer": issuer.issuer, "preset": "keycloak"},
        {"issuer": other.issuer, "audience": "api://b", "groups_claim": "teams"},
    ]
    auth = make_auth(oidc_issuers=json.dumps(issuers), oidc_audience=AUD)
    with TestClient(make_app(auth)) as client:
        first = issuer.sign({"aud": AUD, "realm_access": {"roles": ["admin"]}})
        second = other.sign({"aud": "api://b", "teams": ["admin"]})
        assert client.get("/admin", headers=bearer(first)).status_code == 200
        assert client.get("/admin", headers=bearer(second)).status_code == 200
        wrong_aud = other.sign({"aud": AUD})  # the second issuer's audience is its own
        assert client.get("/me", headers=bearer(wrong_aud)).status_code == 401


def test_oidc_issuers_comma_list(issuer: IssuerServer, other: IssuerServer) -> None:
    auth = make_auth(oidc_issuers=f"{issuer.issuer},{other.issuer}", oidc_audience=AUD)
    assert auth.oidc is not None
    assert auth.oidc.issuers == [issuer.issuer, other.issuer]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "OIDC_ISSUER"),
        ({"oidc_issuer": "https://idp.example.com/"}, "audience"),
        ({"oidc_issuer": "http://idp.example.com/", "oidc_audience": AUD}, "plain http"),
        ({"oidc_issuers": "[1]", "oidc_audience": AUD}, "OIDC_ISSUERS"),
        ({"oidc_issuers": "[", "oidc_audience": AUD}, "JSON"),
        (
            {
                "oidc_issuers": '[{"issuer": "https://a.example/", "colour": 1}]',
                "oidc_audience": AUD,
            },
            "unknown keys",
        ),
        (
            {"oidc_issuer": "https://t.auth0.com", "oidc_audience": AUD, "oidc_preset": "auth0"},
            "ends with a slash",
        ),
        (
            {
                "oidc_issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                "oidc_audience": AUD,
                "oidc_preset": "entra",
            },
            "tenants",
        ),
    ],
)
def test_settings_that_do_not_hold_together_stop_start_up(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make_auth(**values)


def test_api_keys_are_off_without_a_secret_under_oidc(issuer: IssuerServer) -> None:
    auth = make_auth(oidc_issuer=issuer.issuer, oidc_audience=AUD)
    assert auth.api_keys is None
