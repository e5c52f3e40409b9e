"""tokenward.rbac: roles → scopes, framework-free."""

from __future__ import annotations

from typing import Any

import pytest

from tokenward.exceptions import ConfigurationError
from tokenward.principal import Principal
from tokenward.rbac import Roles, is_scope_token, role_names

TABLE = {
    "viewer": ["users.read"],
    "member": ["users.read", "users.write"],
    "admin": ["admin.users"],
}
SCOPES = {
    "users.read": "Read users",
    "users.write": "Change users",
    "admin.users": "Manage accounts",
    "billing.read": "Read invoices",
}


@pytest.fixture
def roles() -> Roles:
    return Roles(TABLE, default_role="viewer", super_admin_role="admin")


def who(*groups: str, scopes: tuple[str, ...] = ()) -> Principal:
    return Principal(subject="u1", credential_type="access_token", groups=groups, scopes=scopes)


def test_the_examples_of_the_issue(roles: Roles) -> None:
    assert roles.scopes_for_roles(["member"]) == ("users.read", "users.write")
    assert roles.has_scope(["member"], "admin.users") is False
    assert roles.has_all_scopes(["admin"], ["users.read", "admin.users"]) is True
    assert roles.has_any_scope(["member"], ["admin.users", "users.write"]) is True
    assert roles.has_any_scope(["member"], ["admin.users"]) is False


def test_several_roles_add_up_each_scope_once_in_order(roles: Roles) -> None:
    assert roles.scopes_for_roles(["member", "viewer"]) == ("users.read", "users.write")
    assert roles.scopes_for_roles(["viewer", "member", "viewer"]) == ("users.read", "users.write")


def test_super_admin_holds_every_declared_scope() -> None:
    roles = Roles(TABLE, super_admin_role="admin", scopes=SCOPES)
    assert set(roles.scopes_for_roles(["admin"])) == set(SCOPES)
    assert roles.has_scope(["admin"], "billing.read")
    # without SCOPES, "every declared scope" is every scope some role grants
    implicit = Roles(TABLE, super_admin_role="admin")
    assert set(implicit.scopes_for_roles(["admin"])) == {"users.read", "users.write", "admin.users"}
    assert not implicit.has_scope(["admin"], "billing.read")


def test_unknown_groups_are_ignored_and_the_default_role_applies(roles: Roles) -> None:
    assert roles.roles_of(["staff", "member"]) == ("member",)
    assert roles.roles_of(["staff"]) == ("viewer",)
    assert roles.roles_of([]) == ("viewer",)
    assert roles.scopes_for_roles(["staff"]) == ("users.read",)
    without_default = Roles(TABLE)
    assert without_default.roles_of(["staff"]) == ()
    assert without_default.scopes_for_roles(["staff"]) == ()


def test_effective_scopes_are_the_tokens_then_the_roles(roles: Roles) -> None:
    principal = who("member", scopes=("reports:read", "users.read"))
    assert roles.effective_scopes(principal) == ("reports:read", "users.read", "users.write")
    assert roles.effective_scopes(who()) == ("users.read",)  # the default role
    assert roles.missing_scopes(who("member"), ["users.write", "admin.users"]) == ("admin.users",)
    assert Roles().effective_scopes(principal) == ("reports:read", "users.read")


def test_an_accounts_roles_claim_grants_scopes_in_tokenwards_own_tokens_only() -> None:
    """Issue 22: an account's roles (the ``roles`` claim of the custom provider's access
    tokens) grant the scopes ROLES maps them to, beside its groups; another issuer's ``roles``
    claim, an API key's principal and non-string entries grant nothing."""
    roles = Roles(TABLE)  # no default role: nothing is granted by accident

    def account(provider: str | None, **more: Any) -> Principal:
        return Principal(
            subject="u1",
            credential_type=more.pop("credential_type", "access_token"),
            groups=("staff", "viewer"),
            provider=provider,
            claims={"roles": ["member", 7, "viewer"], "amr": ["pwd"]},
            **more,
        )

    mine = account("custom")
    assert role_names(mine) == ("staff", "viewer", "member")
    assert roles.effective_scopes(mine) == ("users.read", "users.write")
    assert roles.missing_scopes(mine, ["users.write"]) == ()
    for other in (account("oidc"), account("cognito"), account(None)):
        assert role_names(other) == ("staff", "viewer")
        assert roles.effective_scopes(other) == ("users.read",)
    keyed = account("custom", credential_type="api_key")
    assert roles.effective_scopes(keyed) == ("users.read",)


def test_declared_scopes(roles: Roles) -> None:
    assert roles.declares_scopes is False
    assert list(roles.declared_scopes) == ["users.read", "users.write", "admin.users"]
    assert roles.undeclared(["anything"]) == ()  # nothing to hold it against
    declared = Roles(TABLE, scopes=SCOPES)
    assert declared.declares_scopes is True
    assert declared.declared_scopes["billing.read"] == "Read invoices"
    assert declared.is_declared("users.read") and not declared.is_declared("nope")
    assert declared.undeclared(["users.read", "nope", "nope"]) == ("nope",)
    listed = Roles({"a": ["x"]}, scopes=["x", "y"])
    assert dict(listed.declared_scopes) == {"x": "", "y": ""}


def test_the_table_is_read_only(roles: Roles) -> None:
    with pytest.raises(TypeError):
        roles.roles["root"] = ("x",)  # type: ignore[index]
    assert roles.default_role == "viewer" and roles.super_admin_role == "admin"
    assert "viewer" in repr(roles)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"roles": TABLE, "default_role": "guest"}, "default role 'guest'"),
        ({"roles": TABLE, "super_admin_role": "root"}, "super-admin role 'root'"),
        ({"roles": {}, "default_role": "viewer"}, "known: none"),
        ({"roles": TABLE, "scopes": {"users.read": "r"}}, "not declared: users.write"),
        ({"roles": {"viewer": "users.read"}}, "must be a list"),
        ({"roles": {"viewer": ["users read"]}}, "not scope tokens"),
        ({"roles": {"viewer": [1]}}, "not scope tokens"),
        ({"roles": {"view er": []}}, "role name"),
        ({"roles": ["viewer"]}, "map each role"),
        ({"roles": TABLE, "scopes": {"a\\b": "x"}}, "not scope tokens"),
        ({"roles": TABLE, "scopes": {**SCOPES, "x": 1}}, "description of scope 'x'"),
        ({"roles": TABLE, "scopes": "users.read"}, "must be a list"),
    ],
)
def test_bad_configurations_are_refused(kwargs: dict[str, Any], message: str) -> None:
    roles = kwargs.pop("roles")
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        Roles(roles, **kwargs)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("users.read", True),
        ("reports:read", True),
        ("aws.cognito.signin.user.admin", True),
        ("https://api.example.com/x", True),
        ("", False),
        ("a b", False),
        ('a"b', False),
        ("a\\b", False),
        ("é", False),
        ("x" * 257, False),
        (3, False),
    ],
)
def test_scope_tokens(value: object, ok: bool) -> None:
    assert is_scope_token(value) is ok
