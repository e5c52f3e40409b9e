"""OIDC presets (issue 24): a token of each provider's real shape, signed by a test key whose
set a loopback server publishes (the issuers are the providers' real https forms; ``jwks_url``
points their key fetch at the loopback server)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import tokenward as tw
from oidc_server import IssuerServer
from tokenward.exceptions import ConfigurationError, InvalidIssuerError, MissingClaimError
from tokenward.oidc import PRESETS, OidcIssuer, OidcVerifier


@pytest.fixture(scope="module")
def keys() -> Iterator[IssuerServer]:
    server = IssuerServer().start()
    try:
        yield server
    finally:
        server.stop()


def make(keys: IssuerServer, issuer: str, audience: str, preset: str, **extra: Any) -> OidcVerifier:
    config = OidcIssuer(
        issuer=issuer,
        audience=(audience,),
        preset=preset,
        jwks_url=keys.base + "/jwks",
        **extra,
    )
    return OidcVerifier(issuers=[config], cooldown=0)


def times() -> dict[str, int]:
    now = int(time.time())
    return {"iat": now, "nbf": now, "exp": now + 3600}


def test_auth0_access_token_with_permissions(keys: IssuerServer) -> None:
    issuer = "https://shop.eu.auth0.com/"
    oidc = make(keys, issuer, "https://api.shop.example", "auth0")
    token = keys.sign(
        {
            "iss": issuer,
            "sub": "auth0|64b7f0c2e1",
            "aud": ["https://api.shop.example", "https://shop.eu.auth0.com/userinfo"],
            "azp": "x8Yq0tJb2Nn3",
            "scope": "openid profile email",
            "permissions": ["read:orders", "write:orders"],
            **times(),
        }
    )
    who = oidc.identity(oidc.verify(token))
    assert who.subject == "auth0|64b7f0c2e1"
    assert who.scopes == ("openid", "profile", "email", "read:orders", "write:orders")
    with pytest.raises(ConfigurationError, match="slash"):
        make(keys, issuer.rstrip("/"), "https://api.shop.example", "auth0")


def test_okta_access_token_with_scp_array_and_groups(keys: IssuerServer) -> None:
    issuer = "https://dev-4711.okta.com/oauth2/default"
    oidc = make(keys, issuer, "api://default", "okta")
    token = keys.sign(
        {
            "ver": 1,
            "jti": "AT.x1",
            "iss": issuer,
            "aud": "api://default",
            "cid": "0oa1b2c3d4",
            "uid": "00u1a2b3c4",
            "scp": ["openid", "orders.read"],
            "sub": "jane@example.com",
            "groups": ["Everyone", "admin"],
            **times(),
        }
    )
    who = oidc.identity(oidc.verify(token))
    assert who.groups == ("Everyone", "admin")
    assert who.scopes == ("openid", "orders.read")


def test_keycloak_access_token_with_realm_roles(keys: IssuerServer) -> None:
    issuer = "https://sso.example.com/realms/shop"
    oidc = make(keys, issuer, "orders-api", "keycloak")
    token = keys.sign(
        {
            "iss": issuer,
            "aud": ["orders-api", "account"],
            "sub": str(uuid.uuid4()),
            "typ": "Bearer",
            "azp": "shop-frontend",
            "realm_access": {"roles": ["offline_access", "admin"]},
            "resource_access": {"account": {"roles": ["manage-account"]}},
            "scope": "openid email profile",
            "email": "jane@example.com",
            "preferred_username": "jane",
            **times(),
        }
    )
    who = oidc.identity(oidc.verify(token))
    assert who.groups == ("offline_access", "admin")
    assert who.scopes == ("openid", "email", "profile")
    assert who.email == "jane@example.com"
    with pytest.raises(ConfigurationError, match="realms"):
        make(keys, "https://sso.example.com/auth", "orders-api", "keycloak")


def entra_token(keys: IssuerServer, tid: str, *, iss: str | None = None) -> str:
    return keys.sign(
        {
            "iss": iss or f"https://login.microsoftonline.com/{tid}/v2.0",
            "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "tid": tid,
            "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
            "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "azp": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
            "scp": "Orders.Read Orders.Write",
            "roles": ["Orders.Admin"],
            "ver": "2.0",
            **times(),
        }
    )


TENANT_A = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT_B = "9188040d-6c67-4c5b-b112-36a304b66dad"
TENANT_C = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
ENTRA_AUD = "6e74172b-be56-4843-9ff4-e66a39bb12e3"


def test_entra_single_tenant(keys: IssuerServer) -> None:
    issuer = f"https://login.microsoftonline.com/{TENANT_A}/v2.0"
    oidc = make(keys, issuer, ENTRA_AUD, "entra")
    who = oidc.identity(oidc.verify(entra_token(keys, TENANT_A)))
    assert who.scopes == ("Orders.Read", "Orders.Write")
    assert who.groups == ("Orders.Admin",)
    # Its iss, but another tenant's tid: refused.
    other = keys.sign({"iss": issuer, "aud": ENTRA_AUD, "tid": TENANT_B, **times()})
    with pytest.raises(InvalidIssuerError):
        oidc.verify(other)
    for odd in ("login.microsoftonline.com", "v2.0", ""):
        with pytest.raises(InvalidIssuerError):
            oidc.verify(keys.sign({"iss": issuer, "aud": ENTRA_AUD, "tid": odd, **times()}))
    with pytest.raises(ConfigurationError, match=r"v2\.0"):
        make(keys, f"https://sts.windows.net/{TENANT_A}/", ENTRA_AUD, "entra")


def test_entra_multi_tenant_with_an_allow_list(keys: IssuerServer) -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    oidc = make(keys, template, ENTRA_AUD, "entra", tenants=(TENANT_A, TENANT_B))
    for tid in (TENANT_A, TENANT_B):
        assert oidc.verify(entra_token(keys, tid))["tid"] == tid
    before = keys.count("/jwks")
    with pytest.raises(InvalidIssuerError):  # a tenant outside the list: no key fetch
        oidc.verify(entra_token(keys, TENANT_C))
    assert keys.count("/jwks") == before
    # An allowed iss whose tid is another (allowed) tenant: not its tenant's issuer.
    mixed = entra_token(keys, TENANT_B, iss=f"https://login.microsoftonline.com/{TENANT_A}/v2.0")
    with pytest.raises(InvalidIssuerError):
        oidc.verify(mixed)
    no_tid = keys.sign(
        {"iss": f"https://login.microsoftonline.com/{TENANT_A}/v2.0", "aud": ENTRA_AUD, **times()}
    )
    with pytest.raises(MissingClaimError):
        oidc.verify(no_tid)
    config = oidc.configs[0]
    assert config.metadata_url == (
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
    )


def test_google_id_token_with_and_without_scheme(keys: IssuerServer) -> None:
    client = "1234987819200-abcd.apps.googleusercontent.com"
    oidc = make(keys, "https://accounts.google.com", client, "google")
    for iss in ("https://accounts.google.com", "accounts.google.com"):
        token = keys.sign(
            {
                "iss": iss,
                "azp": client,
                "aud": client,
                "sub": "110169484474386276334",
                "email": "jane@gmail.com",
                "email_verified": True,
                "at_hash": "X_B3Z3Fi4udZ2mf75RWo3w",
                **times(),
            }
        )
        who = oidc.identity(oidc.verify(token))
        assert who.email == "jane@gmail.com" and who.groups == ()
    with pytest.raises(ConfigurationError, match=r"accounts\.google\.com"):
        make(keys, "https://google.com", client, "google")


def test_every_preset_is_tested_here() -> None:
    assert set(PRESETS) == {"auth0", "okta", "keycloak", "entra", "google"}


# --- the presets through the settings ---------------------------------------------------------

pytest.importorskip("fastapi")

from tokenward.fastapi import Auth, AuthSettings  # noqa: E402


def test_entra_multi_tenant_from_the_settings(keys: IssuerServer) -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        auth_provider="oidc",
        environment="production",
        oidc_issuer="https://login.microsoftonline.com/{tenantid}/v2.0",
        oidc_audience=ENTRA_AUD,
        oidc_preset="entra",
        oidc_tenants=f"{TENANT_A},{TENANT_B}",
        oidc_jwks_url=keys.base + "/jwks",
    )
    auth = Auth(settings)
    assert auth.oidc is not None
    assert auth.oidc.verify(entra_token(keys, TENANT_B))["tid"] == TENANT_B
    with pytest.raises(tw.InvalidTokenError):
        auth.oidc.verify(entra_token(keys, TENANT_C))


def test_a_claim_setting_overrides_the_preset(keys: IssuerServer) -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        auth_provider="oidc",
        environment="production",
        oidc_issuer="https://sso.example.com/realms/shop",
        oidc_audience="orders-api",
        oidc_preset="keycloak",
        oidc_roles_claim="resource_access.orders-api.roles",
        oidc_jwks_url=keys.base + "/jwks",
    )
    oidc = Auth(settings).oidc
    assert oidc is not None
    token = keys.sign(
        {
            "iss": "https://sso.example.com/realms/shop",
            "aud": "orders-api",
            "realm_access": {"roles": ["ignored"]},
            "resource_access": {"orders-api": {"roles": ["clerk"]}},
            **times(),
        }
    )
    assert oidc.identity(oidc.verify(token)).groups == ("clerk",)
