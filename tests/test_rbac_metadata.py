"""Roles with metadata (description, is_system), as VentureKit's roles have: in Roles and in the
ROLES setting."""

from __future__ import annotations

import json

import pytest

from tokenward.exceptions import ConfigurationError
from tokenward.fastapi import AuthSettings
from tokenward.rbac import RoleInfo, Roles


def test_a_role_may_carry_a_description_and_a_system_flag() -> None:
    roles = Roles(
        {
            "viewer": ["reports:read"],
            "admin": {
                "scopes": ["reports:read", "users.write"],
                "description": "Admins",
                "is_system": True,
            },
            "guest": {"description": "No scopes"},
        }
    )
    assert roles.roles == {
        "viewer": ("reports:read",),
        "admin": ("reports:read", "users.write"),
        "guest": (),
    }
    assert roles.info["admin"] == RoleInfo("admin", ("reports:read", "users.write"), "Admins", True)
    assert roles.info["viewer"] == RoleInfo("viewer", ("reports:read",))
    assert roles.scopes_for_roles(["admin"]) == ("reports:read", "users.write")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"scopes": [], "colour": "red"}, "unknown keys: colour"),
        ({"description": 3}, "description of role 'r' must be a string"),
        ({"is_system": "yes"}, "is_system of role 'r' must be true or false"),
        ({"scopes": "a"}, "must be a list"),
    ],
)
def test_bad_metadata_is_refused(entry: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Roles({"r": entry})  # type: ignore[dict-item]


def test_the_roles_setting_takes_metadata() -> None:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        roles=json.dumps({"admin": {"scopes": ["a.b"], "is_system": True}, "viewer": ["a.b"]}),
    )
    roles = settings.rbac()
    assert roles.info["admin"].is_system and not roles.info["viewer"].is_system
    assert roles.roles["admin"] == ("a.b",)
