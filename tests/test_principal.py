"""Principal, its claim mappers, and PrincipalMemo (a token seen again keeps its Principal)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tokenward.exceptions import InvalidClaimError
from tokenward.principal import Principal, PrincipalMemo, from_token_claims

CLAIMS: dict[str, Any] = {
    "sub": "user-1",
    "email": "a@example.com",
    "cognito:groups": ["root", "user"],
    "scope": "reports:read reports:read users:write",
    "sid": "family-1",
}


def counting_mapper(calls: list[Mapping[str, Any]]) -> Any:
    def mapper(claims: Mapping[str, Any]) -> Principal:
        calls.append(claims)
        return from_token_claims(claims)

    return mapper


def test_from_token_claims_reads_tokenwards_claim_names() -> None:
    p = from_token_claims(CLAIMS)
    assert (p.subject, p.email, p.session_id) == ("user-1", "a@example.com", "family-1")
    assert p.groups == ("root", "user")
    assert p.scopes == ("reports:read", "users:write")  # once each, in order


def test_a_token_seen_again_gets_the_principal_made_the_first_time() -> None:
    calls: list[Mapping[str, Any]] = []
    memo = PrincipalMemo(8)
    first = memo.principal("token-a", dict(CLAIMS), counting_mapper(calls))
    assert memo.get("token-a") is first
    again = memo.principal("token-a", dict(CLAIMS), counting_mapper(calls))
    assert again is first
    assert len(calls) == 1


def test_a_memoised_principal_has_read_only_claims_of_its_own() -> None:
    claims = dict(CLAIMS)
    p = PrincipalMemo(8).principal("token-a", claims, from_token_claims)
    with pytest.raises(TypeError):
        p.claims["sub"] = "root"  # type: ignore[index]
    claims["sub"] = "changed by the caller"  # the caller's dict is not the memo's
    assert p.claims["sub"] == "user-1"


def test_the_memo_keeps_at_most_capacity_tokens_oldest_out_first() -> None:
    memo = PrincipalMemo(3)
    for i in range(10):
        memo.principal(f"token-{i}", {**CLAIMS, "sub": f"user-{i}"}, from_token_claims)
        assert len(memo) <= 3
    assert [memo.get(f"token-{i}") is not None for i in range(10)] == [False] * 7 + [True] * 3


def test_capacity_zero_keeps_nothing() -> None:
    calls: list[Mapping[str, Any]] = []
    memo = PrincipalMemo(0)
    for _ in range(3):
        memo.principal("token-a", dict(CLAIMS), counting_mapper(calls))
    assert len(memo) == 0
    assert len(calls) == 3


def test_a_mapper_that_refuses_leaves_nothing_behind() -> None:
    memo = PrincipalMemo(8)
    bad = {**CLAIMS, "cognito:groups": [1, "root"]}
    for _ in range(2):
        with pytest.raises(InvalidClaimError):
            memo.principal("token-bad", bad, from_token_claims)
    assert memo.get("token-bad") is None


def test_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        PrincipalMemo(-1)


def test_clear_forgets_every_token() -> None:
    memo = PrincipalMemo(8)
    memo.principal("token-a", dict(CLAIMS), from_token_claims)
    memo.clear()
    assert memo.get("token-a") is None


NESTED: dict[str, Any] = {
    **CLAIMS,
    "address": {"country": "NZ", "lines": ["1 Queen St", "Auckland"]},
    "tags": [{"k": "a"}, {"k": "b"}],
    "profile": {"plan": "pro"},
}


def test_memoised_claims_are_frozen_all_the_way_down() -> None:
    p = PrincipalMemo(8).principal("token-a", NESTED, from_token_claims)
    assert p.claims["cognito:groups"] == ("root", "user")
    assert p.claims["address"]["lines"] == ("1 Queen St", "Auckland")
    with pytest.raises(TypeError):
        p.claims["address"]["country"] = "AU"
    with pytest.raises(AttributeError):
        p.claims["cognito:groups"].append("admin")


def test_a_copy_of_memoised_claims_is_the_tokens_json_again_and_owned_by_the_caller() -> None:
    p = PrincipalMemo(8).principal("token-a", NESTED, from_token_claims)
    first = p.claims.copy()  # type: ignore[attr-defined]
    assert first == NESTED
    assert type(first) is dict and type(first["cognito:groups"]) is list
    assert type(first["tags"][0]) is dict and type(first["address"]["lines"]) is list
    first["cognito:groups"].append("admin")
    first["address"]["lines"].append("changed")
    first["tags"][0]["k"] = "changed"
    first["profile"]["plan"] = "free"
    assert p.claims.copy() == NESTED  # type: ignore[attr-defined]
