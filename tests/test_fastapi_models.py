"""CurrentUser, the FastAPI view of a Principal: built fast, and the same as pydantic builds it."""

from __future__ import annotations

import json

import pytest

from tokenward.fastapi import CurrentUser
from tokenward.principal import Principal

PRINCIPAL = Principal(
    subject="u1",
    credential_type="api_key",
    email="u1@example.com",
    groups=("root", "ops"),
    scopes=("reports:read",),
    provider="api_key",
    claims={"sub": "u1", "scope": "reports:read"},
)


def _by_pydantic(scopes: tuple[str, ...]) -> CurrentUser:
    user = CurrentUser.model_construct(
        sub="u1",
        email="u1@example.com",
        groups=["root", "ops"],
        scopes=list(scopes),
        provider="api_key",
        credential_type="api_key",
        claims={"sub": "u1", "scope": "reports:read"},
    )
    user._principal = PRINCIPAL
    return user


@pytest.mark.parametrize("scopes", [None, ("reports:read", "users.read")])
def test_from_principal_is_what_model_construct_builds(scopes: tuple[str, ...] | None) -> None:
    fast = CurrentUser.from_principal(PRINCIPAL, scopes)
    slow = _by_pydantic(scopes or PRINCIPAL.scopes)
    assert fast == slow
    assert fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set == set(CurrentUser.model_fields)
    assert (
        fast.__pydantic_extra__ is None and fast.__pydantic_private__ == slow.__pydantic_private__
    )
    assert fast.principal is PRINCIPAL
    assert CurrentUser.model_validate(fast.model_dump()).model_dump() == fast.model_dump()


def test_the_view_is_frozen_all_the_way_down() -> None:
    user = CurrentUser.from_principal(PRINCIPAL)
    with pytest.raises(ValueError, match="frozen"):
        user.sub = "someone else"  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        user.groups.append("admin")
    with pytest.raises(TypeError, match="read-only"):
        user.scopes.append("admin")
    with pytest.raises(TypeError, match="read-only"):
        user.claims["sub"] = "someone else"
    assert user.groups == ["root", "ops"] and PRINCIPAL.groups == ("root", "ops")
    mine = list(user.groups)  # a copy to change
    mine.append("admin")
    assert user.groups == ["root", "ops"]


def test_a_hand_built_user_is_frozen_too() -> None:
    user = CurrentUser(sub="fake", groups=["root"], claims={"a": [1, {"b": 2}]})
    assert user.groups == ["root"] and user.claims == {"a": [1, {"b": 2}]}
    with pytest.raises(TypeError, match="read-only"):
        user.groups.append("admin")
    with pytest.raises(TypeError, match="read-only"):
        user.claims["a"][1]["b"] = 3
    assert user.model_dump()["claims"] == {"a": [1, {"b": 2}]}
    assert json.loads(user.model_dump_json())["groups"] == ["root"]


def test_a_hand_built_user_still_has_a_principal() -> None:
    user = CurrentUser(sub="fake", groups=["root"], provider="test")
    assert user.principal.subject == "fake" and user.principal.groups == ("root",)
    assert user.credential_type == "access_token"
