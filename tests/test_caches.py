"""tokenward.caches: what each per-token memo keeps, keyed by what, and when a view is kept (the
Principal's ``shared`` flag, set by the PrincipalMemo that keeps it, not a type test)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import Depends

from _fastapi_support import TestClient, bearer, login, make_app
from tokenward.caches import REQUEST_MEMO_KEY, PrincipalMemo, ViewMemo, remember
from tokenward.fastapi import CurrentUser, require_current_user, require_groups
from tokenward.fastapi import dependencies as deps
from tokenward.principal import FrozenDict, Principal, freeze, from_token_claims

CLAIMS = {"sub": "u-1", "email": "a@example.com", "cognito:groups": ["ops"], "scope": "a b"}


def test_a_memoised_principal_is_marked_shared_and_a_fresh_one_is_not() -> None:
    memo = PrincipalMemo(4)
    kept = memo.principal("token-a", CLAIMS, from_token_claims)
    assert kept.shared and memo.get("token-a") is kept
    assert type(kept.claims) is FrozenDict
    assert not from_token_claims(CLAIMS).shared
    assert not dataclasses.replace(kept, session_id="s").shared  # a new Principal
    assert kept == dataclasses.replace(kept)  # the flag is not part of equality
    # A memo that keeps nothing shares nothing.
    assert not PrincipalMemo(0).principal("token-a", CLAIMS, from_token_claims).shared


def test_the_view_memo_keeps_views_of_shared_principals_only() -> None:
    built: list[Principal] = []

    def build(principal: Principal) -> tuple[str, ...]:
        built.append(principal)
        return principal.groups

    views = ViewMemo(build, capacity=2)
    shared = PrincipalMemo(4).principal("token-a", CLAIMS, from_token_claims)
    assert views.view(shared) is views.view(shared)
    assert built == [shared] and len(views) == 1
    # Frozen claims alone do not make a Principal shared: the decision is the flag.
    lone = Principal(subject="u-2", credential_type="api_key", claims=freeze({"x": 1}))
    views.view(lone)
    views.view(lone)
    assert built == [shared, lone, lone] and len(views) == 1


def test_the_view_memo_is_bounded_and_never_confuses_two_principals() -> None:
    views = ViewMemo(lambda p: p.subject, capacity=2)
    memo = PrincipalMemo(8)
    ps = [memo.principal(f"t{i}", {**CLAIMS, "sub": f"u{i}"}, from_token_claims) for i in range(3)]
    assert [views.view(p) for p in ps] == ["u0", "u1", "u2"]
    assert len(views) == 2  # the oldest left first
    assert views.view(ps[0]) == "u0"  # made again
    assert ViewMemo(lambda p: p.subject, capacity=0).view(ps[0]) == "u0"
    views.clear()
    assert len(views) == 0


def test_remember_keeps_at_most_capacity() -> None:
    entries: dict[str, int] = {}
    for i in range(5):
        remember(entries, str(i), i, 3)
    assert list(entries) == ["2", "3", "4"]
    remember(entries, "x", 0, 0)
    assert "x" not in entries


def test_current_user_is_built_through_pydantic_and_cached_per_shared_principal() -> None:
    """Auth.current_user: the same CurrentUser for every request proving the same shared
    Principal; a model pydantic built (public API), with every field set, equal to a validated
    one, holding its Principal."""
    _, auth = make_app()
    shared = PrincipalMemo(4).principal("token-a", CLAIMS, from_token_claims)
    user = auth.current_user(shared)
    assert auth.current_user(shared) is user and len(auth.views) == 1
    assert user.principal is shared
    assert user.model_fields_set == set(CurrentUser.model_fields)
    validated = CurrentUser(
        sub="u-1",
        email="a@example.com",
        groups=["ops"],
        scopes=["a", "b"],
        provider="custom",
        claims=dict(CLAIMS),
    )
    assert user.model_dump() == validated.model_dump()
    api_key = Principal(subject="u-3", credential_type="api_key", scopes=("x",))
    first, second = auth.current_user(api_key), auth.current_user(api_key)
    assert first is not second and first == second and len(auth.views) == 1


def test_one_request_checks_its_credentials_once_for_several_dependencies() -> None:
    """The per-request memo (4.): require_groups beside require_current_user authenticate once,
    and the memo is in the request's ASGI scope under REQUEST_MEMO_KEY."""
    app, auth = make_app(debug_groups="ops")
    seen_scopes: list[Any] = []

    @app.get("/two", dependencies=[Depends(require_groups("ops"))])
    def two(
        user: Annotated[CurrentUser, Depends(require_current_user)], request: deps.HTTPConnection
    ) -> dict[str, str]:
        seen_scopes.append(request.scope.get(REQUEST_MEMO_KEY))
        return {"sub": user.sub}

    with TestClient(app) as client:
        token = login(client)["access_token"]
        assert client.get("/two", headers=bearer(token)).status_code == 200
        assert client.get("/two", headers=bearer(token)).status_code == 200
    assert auth.tokens is not None
    info = auth.tokens.tokens.cache_info()  # the verified-token cache counts every check
    assert info is not None
    assert info["hits"] + info["misses"] == 2  # once per request, not once per dependency
    assert all(memo and None in memo for memo in seen_scopes)


def test_requests_with_the_same_api_key_share_its_principal_and_user() -> None:
    """An API key's record is served from the service's cache for ``API_KEY_CACHE_TTL``; the
    Principal made from it is shared by those requests (and so is its CurrentUser). A fresh
    record (the TTL passed, or the cache off) makes a fresh Principal."""
    import asyncio

    async def run(ttl: float) -> tuple[Principal, Principal, Any, Any]:
        _, auth = make_app(api_key_cache_ttl=ttl)
        assert auth.api_keys is not None
        await auth.store.open()
        try:
            owner = Principal(subject="owner-1", credential_type="access_token")
            made = await auth.api_keys.create(owner, name="ci")
            first = await auth.api_keys.authenticate(made.key)
            second = await auth.api_keys.authenticate(made.key)
            return first, second, auth.current_user(first), auth.current_user(second)
        finally:
            await auth.store.close()

    first, second, user1, user2 = asyncio.run(run(30))
    assert first is second and first.shared and user1 is user2
    assert user1.credential_type == "api_key" and user1.principal is first
    first, second, user1, user2 = asyncio.run(run(0))
    assert first is not second and not first.shared and user1 is not user2
