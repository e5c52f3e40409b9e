"""Extra claims in the custom provider's access tokens, and the access set they carry when
ACCESS_SET_IN_TOKEN=true (issue 26): HS256 (the native DebugTokens) and ES256 (the key ring)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Security

import tokenward as tw
from _fastapi_support import SECRET, TestClient, bearer, login
from tokenward._core import DebugTokens
from tokenward.access import (
    ACCESS_SET_CLAIM,
    AccessContext,
    access_set_claims,
    access_set_is_current,
    compute_access_set,
    decode_access_set,
    define_access,
    encode_access_set,
)
from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_entitlement
from tokenward.fastapi.dependencies import require_current_user
from tokenward.principal import Principal, from_token_claims
from tokenward.stores.sqlite import SQLiteStore
from tokenward.tokens import (
    MAX_EXTRA_CLAIMS_BYTES,
    AccessTokenIssuer,
    DebugAccessTokens,
    RingAccessTokens,
    TokenService,
)

NOW = 1_700_000_000
KEY = b"k" * 32
RESERVED = (
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "token_use",
    "scope",
    "groups",
    "email",
    "cognito:groups",
    "client_id",
    "auth_time",
    "typ",
)
ACCESS = define_access(
    entities={
        "organization": {"roles": ["owner", "member"]},
        "project": {
            "roles": ["manager", "viewer"],
            "inherits": {"organization:owner": "manager", "organization:member": "viewer"},
        },
    },
    entitlements={
        "project:read": {"roles": ["viewer", "manager"]},
        "project:delete": {"roles": ["manager"]},
        "project:export": {"roles": ["manager"], "plans": ["pro"]},
    },
)
WHO = Principal(subject="u1", credential_type="access_token", email="u1@example.com")


def issuers() -> dict[str, AccessTokenIssuer]:
    return {
        "HS256": DebugAccessTokens(DebugTokens(KEY)),
        "ES256": RingAccessTokens(tw.KeyRing.generate("ES256"), issuer="tokenward"),
    }


@pytest.fixture(params=["HS256", "ES256"])
def issuer(request: pytest.FixtureRequest) -> AccessTokenIssuer:
    return issuers()[request.param]


def issue(issuer: AccessTokenIssuer, extra: Any) -> str:
    return issuer.issue(WHO, iat=NOW, lifetime=60, jti="j1", sid="s1", extra=extra)


def test_extra_claims_come_back_from_verify_and_into_the_principal(
    issuer: AccessTokenIssuer,
) -> None:
    extra = {"acl": {"v": 1, "a": ["x:y"], "h": "abc"}, "tenant": "t1", "n": 3, "ok": True}
    claims = issuer.verify(issue(issuer, extra), now=NOW)
    assert {k: claims[k] for k in extra} == extra
    assert claims["sub"] == "u1" and claims["sid"] == "s1" and claims["token_use"] == "access"
    principal = from_token_claims(claims)
    assert principal.claims["acl"] == extra["acl"] and principal.claims["tenant"] == "t1"


def test_the_same_extra_claims_give_the_same_hs256_token() -> None:
    tokens = DebugAccessTokens(DebugTokens(KEY))
    assert issue(tokens, {"acl": {"a": [1]}}) == issue(tokens, {"acl": {"a": [1]}})
    assert issue(tokens, {"acl": {"a": [1]}}) != issue(tokens, {"acl": {"a": [2]}})
    assert issue(tokens, None) == issue(tokens, {})


@pytest.mark.parametrize("name", RESERVED)
def test_a_reserved_claim_is_refused(issuer: AccessTokenIssuer, name: str) -> None:
    assert DebugTokens.is_reserved_claim(name)
    with pytest.raises(ConfigurationError, match="reserved"):
        issue(issuer, {"tenant": "t1", name: "forged"})


def test_bad_extra_claims_are_refused(issuer: AccessTokenIssuer) -> None:
    assert not DebugTokens.is_reserved_claim("acl")
    with pytest.raises(ConfigurationError):
        issue(issuer, {"big": "x" * (MAX_EXTRA_CLAIMS_BYTES + 1)})
    with pytest.raises(ConfigurationError):
        issue(issuer, {"": 1})
    with pytest.raises(TypeError):
        issue(issuer, ["acl"])
    with pytest.raises((TypeError, ValueError, ConfigurationError)):
        issue(issuer, {"when": object()})
    # Just under the bound is fine.
    claims = issuer.verify(issue(issuer, {"big": "x" * (MAX_EXTRA_CLAIMS_BYTES - 20)}), now=NOW)
    assert len(claims["big"]) == MAX_EXTRA_CLAIMS_BYTES - 20


def test_a_token_the_verifier_would_refuse_is_not_minted() -> None:
    """Groups and extra claims together past max_token_bytes (8192): refused at issue."""
    tokens = DebugTokens(KEY)
    groups = [f"group-{i:04d}" for i in range(500)]
    with pytest.raises(ConfigurationError, match="bytes"):
        tokens.issue_access("u1", groups=groups, lifetime=60, extra={"x": "y" * 4000})


# --- the token service: login and refresh ----------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


async def _service_round(algorithm: str) -> None:
    store = SQLiteStore(":memory:")
    clock = Clock()
    try:
        service = TokenService(
            DebugTokens(KEY),
            store,
            access=issuers()[algorithm],
            clock=clock,
            extra_claims=access_set_claims(ACCESS, store),
        )
        pair = await service.start(WHO)
        first = service.verify_access(pair.access_token)[ACCESS_SET_CLAIM]
        assert decode_access_set(first, ACCESS).allowed == frozenset()
        assert await access_set_is_current(first, "u1", ACCESS, store)

        await store.assign_role("u1", "owner", ("organization", "o1"))
        assert not await access_set_is_current(first, "u1", ACCESS, store)  # stale now
        clock.now += 1
        again = await service.refresh(pair.refresh_token)
        second = service.verify_access(again.access_token)[ACCESS_SET_CLAIM]
        computed = await compute_access_set("u1", ACCESS, store)
        assert second == encode_access_set(computed)
        assert decode_access_set(second, ACCESS) == computed
        assert computed.allowed == {"project:read", "project:delete"}
        assert await access_set_is_current(second, "u1", ACCESS, store)
        # A duplicate inside the grace window, nothing changed: the very same pair (the same
        # claims; ECDSA signs the same claims differently each time).
        duplicate = await service.refresh(pair.refresh_token)
        assert duplicate.access_token.split(".")[:2] == again.access_token.split(".")[:2]
        if algorithm == "HS256":
            assert duplicate.access_token == again.access_token
        assert duplicate.refresh_token == again.refresh_token
    finally:
        await store.close()


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_the_token_service_adds_the_access_set_at_login_and_refresh(algorithm: str) -> None:
    asyncio.run(_service_round(algorithm))


def test_staleness_is_false_for_anything_not_a_set() -> None:
    async def go() -> None:
        store = SQLiteStore(":memory:")
        try:
            current = encode_access_set(await compute_access_set("u1", ACCESS, store))
            assert await access_set_is_current(current, "u1", ACCESS, store)
            altered = {**current, "a": ["project:read"]}  # the hash no longer matches
            for bad in (None, "x", {}, {**current, "h": "AAAA"}, altered):
                assert not await access_set_is_current(bad, "u1", ACCESS, store)
            # Another plan changes the set of a plan-gated entitlement's holder only.
            await store.assign_role("u1", "manager", ("project", "p1"))
            pro = encode_access_set(await compute_access_set("u1", ACCESS, store, plan="pro"))
            assert await access_set_is_current(pro, "u1", ACCESS, store, plan="pro")
            assert not await access_set_is_current(pro, "u1", ACCESS, store)
            ctx = AccessContext("u1", ACCESS, store)
            assert await ctx.is_current(pro, plan="pro") and not await ctx.is_current(pro)
            await store.revoke_role("u1", "manager", ("project", "p1"))
            assert not await ctx.is_current(pro, plan="pro")
        finally:
            await store.close()

    asyncio.run(go())


def test_access_set_claims_needs_a_definition_and_an_access_store() -> None:
    with pytest.raises(ConfigurationError, match="ACCESS_SET_IN_TOKEN"):
        access_set_claims(None, SQLiteStore(":memory:"))
    with pytest.raises(ConfigurationError, match="AccessStore"):
        access_set_claims(ACCESS, object())


# --- the app: ACCESS_SET_IN_TOKEN=true -------------------------------------------------------


def make(tmp_path: Path, *, access: Any = ACCESS, **values: Any) -> tuple[TestClient, Auth]:
    values.setdefault("access_set_in_token", True)
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_", auth_secret=SECRET, **values
    )
    auth = Auth(settings, store=SQLiteStore(tmp_path / "a.db"), access=access)
    app = FastAPI(lifespan=auth.lifespan)
    app.include_router(auth.router)

    @app.delete(
        "/projects/{id}",
        dependencies=[
            Depends(
                require_entitlement(
                    "project:delete", resource=lambda r: ("project", r.path_params["id"])
                )
            )
        ],
    )
    async def delete(id: str) -> dict[str, str]:
        return {"deleted": id}

    @app.get("/acl")
    async def acl(user: Annotated[CurrentUser, Security(require_current_user)]) -> Any:
        return user.claims.get(ACCESS_SET_CLAIM)

    return TestClient(app), auth


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_the_app_puts_the_set_in_tokens_and_still_checks_the_store(
    tmp_path: Path, algorithm: str
) -> None:
    client, auth = make(tmp_path, token_algorithm=algorithm)
    assert auth.tokens is not None
    store: Any = auth.store
    with client:
        pair = login(client)
        sub = client.get("/v1/auth/me", headers=bearer(pair["access_token"])).json()["sub"]
        client.portal.call(store.assign_role, sub, "owner", ("organization", "o1"))
        client.portal.call(store.set_parent, ("project", "p1"), ("organization", "o1"))
        # The refreshed token carries the set that grants project:delete.
        refreshed = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        token = refreshed.json()["access_token"]
        acl = auth.tokens.verify_access(token)[ACCESS_SET_CLAIM]
        assert decode_access_set(acl, ACCESS).can("project:delete")
        assert client.portal.call(access_set_is_current, acl, sub, ACCESS, store)
        assert client.get("/acl", headers=bearer(token)).json() == acl  # user.claims
        assert client.delete("/projects/p1", headers=bearer(token)).status_code == 200
        # A revoke: the old token still says project:delete, but it is stale and the
        # dependency checks the store, not the token.
        client.portal.call(store.revoke_role, sub, "owner", ("organization", "o1"))
        assert not client.portal.call(access_set_is_current, acl, sub, ACCESS, store)
        denied = client.delete("/projects/p1", headers=bearer(token))
        assert denied.status_code == 403, denied.text


def test_access_set_in_token_needs_a_definition(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ACCESS_SET_IN_TOKEN"):
        make(tmp_path, access=None)


def test_without_the_setting_tokens_carry_no_set(tmp_path: Path) -> None:
    client, auth = make(tmp_path, access_set_in_token=False)
    assert auth.tokens is not None
    with client:
        token = login(client)["access_token"]
        assert ACCESS_SET_CLAIM not in auth.tokens.verify_access(token)
