"""Principal, its claim mappers, and PrincipalMemo (a token seen again keeps its Principal)."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest

from tokenward.caches import PrincipalMemo
from tokenward.exceptions import InvalidClaimError
from tokenward.principal import (
    EMPTY_CLAIMS,
    FrozenDict,
    FrozenList,
    Principal,
    freeze,
    from_token_claims,
)

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
    with pytest.raises(TypeError, match="read-only"):
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
    assert p.claims == NESTED  # equal to the token's JSON, lists as lists
    assert p.claims["cognito:groups"] == ["root", "user"]
    with pytest.raises(TypeError, match="read-only"):
        p.claims["address"]["country"] = "AU"
    with pytest.raises(TypeError, match="read-only"):
        p.claims["cognito:groups"].append("admin")
    with pytest.raises(TypeError, match="read-only"):
        p.claims["tags"][0]["k"] = "changed"
    assert p.claims == NESTED


def test_copies_of_frozen_values_are_plain_and_changeable() -> None:
    frozen = freeze(NESTED)
    shallow = copy.copy(frozen)
    assert type(shallow) is dict and shallow == NESTED
    deep = copy.deepcopy(frozen)
    assert type(deep) is dict and type(deep["cognito:groups"]) is list
    assert type(deep["tags"][0]) is dict and type(deep["address"]["lines"]) is list
    deep["cognito:groups"].append("admin")
    deep["tags"][0]["k"] = "changed"
    assert frozen == NESTED
    assert pickle.loads(pickle.dumps(frozen)) == NESTED
    assert json.loads(json.dumps(frozen)) == NESTED
    assert type(frozen.copy()) is dict and type(frozen["cognito:groups"].copy()) is list


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(x=1),
        lambda d: d.setdefault("x", 1),
        lambda d: d.pop("sub"),
        lambda d: d.popitem(),
        lambda d: d.clear(),
        lambda d: d.__delitem__("sub"),
        lambda d: d.__ior__({"x": 1}),
        lambda d: d["cognito:groups"].extend(["x"]),
        lambda d: d["cognito:groups"].insert(0, "x"),
        lambda d: d["cognito:groups"].remove("root"),
        lambda d: d["cognito:groups"].pop(),
        lambda d: d["cognito:groups"].sort(),
        lambda d: d["cognito:groups"].reverse(),
        lambda d: d["cognito:groups"].clear(),
        lambda d: d["cognito:groups"].__setitem__(0, "x"),
        lambda d: d["cognito:groups"].__delitem__(0),
        lambda d: d["cognito:groups"].__iadd__(["x"]),
        lambda d: d["cognito:groups"].__imul__(2),
    ],
)
def test_every_way_of_changing_frozen_claims_is_refused(change: Any) -> None:
    frozen = freeze(NESTED)
    with pytest.raises(TypeError, match="read-only"):
        change(frozen)
    assert frozen == NESTED


def test_freeze_keeps_frozen_values_and_scalars() -> None:
    frozen = freeze(NESTED)
    assert freeze(frozen) is frozen
    assert freeze({}) is EMPTY_CLAIMS and freeze(MappingProxyType({})) is EMPTY_CLAIMS
    assert freeze(("a", ["b"])) == ["a", ["b"]] and isinstance(freeze(("a",)), FrozenList)
    assert freeze(3) == 3 and freeze(None) is None and freeze("s") == "s"
    assert isinstance(freeze({"a": 1}), FrozenDict)
