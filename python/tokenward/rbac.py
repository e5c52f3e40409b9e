"""Roles → scopes: which scopes a principal's roles grant it.

A role is a group name (``cognito:groups`` for Cognito, ``DEBUG_GROUPS`` for the debug user,
an account's groups), or one of an account's roles (``UserRecord.roles``, carried in the
``roles`` claim of tokenward's own access tokens: :func:`role_names`); each role grants a list
of scopes::

    roles = Roles(
        {"viewer": ["users.read"], "member": ["users.read", "users.write"], "admin": []},
        default_role="viewer",
        super_admin_role="admin",
    )
    roles.scopes_for_roles(["member"])        # ("users.read", "users.write")
    roles.effective_scopes(principal)         # its token's scopes, then its roles' scopes

A role may also carry metadata, as VentureKit's roles do: ``{"admin": {"scopes": [...],
"description": "Administrators", "is_system": true}}`` (``is_system`` marks a role the app
defines itself and users may not edit or delete); :attr:`Roles.info` gives each role's
:class:`RoleInfo`.

Rules:

* group names that are not roles are ignored; a principal none of whose groups is a role gets
  ``default_role`` (when one is set);
* ``super_admin_role`` has every declared scope;
* the declared scopes are ``scopes`` (scope → description) when given, otherwise every scope some
  role grants. When ``scopes`` is given, a role granting a scope not in it is a configuration
  error, and so is a route asking for one (checked by the FastAPI layer at start-up).

Every problem in the configuration is a :class:`~tokenward.ConfigurationError` at construction,
so an app with a broken role table does not start. Nothing here imports a web framework.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from tokenward.exceptions import ConfigurationError
from tokenward.principal import Principal

__all__ = ["RoleInfo", "Roles", "is_scope_token", "role_names"]

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), i.e. printable ASCII without
# space, double quote and backslash. Roles follow the same rule, so they fit a header too.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
MAX_NAME_CHARS = 256


def is_scope_token(value: object) -> bool:
    """Whether ``value`` is a valid OAuth 2.0 scope token (RFC 6749 §3.3)."""
    return (
        isinstance(value, str)
        and len(value) <= MAX_NAME_CHARS
        and _SCOPE_TOKEN.fullmatch(value) is not None
    )


def role_names(principal: Principal) -> tuple[str, ...]:
    """The names a principal's roles are looked up by: its groups, then, for an access token of
    tokenward's own (the custom provider), the account's ``roles`` claim. Only tokenward sets
    that claim there (an app's ``claims=`` may not); another issuer's ``roles`` claim means what
    that issuer says, so it grants nothing here (map it to groups instead)."""
    groups = principal.groups
    if principal.provider != "custom" or principal.credential_type != "access_token":
        return groups
    found = principal.claims.get("roles")
    if not isinstance(found, list | tuple) or not found:
        return groups
    return tuple(dict.fromkeys((*groups, *(r for r in found if isinstance(r, str)))))


def _names(value: object, what: str) -> tuple[str, ...]:
    """A list of scope tokens, duplicates dropped and order kept."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigurationError(f"{what} must be a list of scope names")
    bad = [repr(v) for v in value if not is_scope_token(v)]
    if bad:
        raise ConfigurationError(
            f"{what} holds names that are not scope tokens (printable ASCII without space, "
            f'" or \\): {", ".join(bad[:5])}'
        )
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A role, its scopes and its metadata."""

    name: str
    scopes: tuple[str, ...]
    description: str = ""
    is_system: bool = False


def _role_entry(role: str, value: object) -> RoleInfo:
    """A role's entry: a list of scopes, or ``{"scopes": [...], "description": ...,
    "is_system": ...}``."""
    if not isinstance(value, Mapping):
        return RoleInfo(role, _names(value, f"the scopes of role {role!r}"))
    unknown = sorted(str(k) for k in value if k not in ("scopes", "description", "is_system"))
    if unknown:
        raise ConfigurationError(f"role {role!r} has unknown keys: {', '.join(unknown)}")
    description: Any = value.get("description", "")
    is_system: Any = value.get("is_system", False)
    if not isinstance(description, str):
        raise ConfigurationError(f"the description of role {role!r} must be a string")
    if not isinstance(is_system, bool):
        raise ConfigurationError(f"is_system of role {role!r} must be true or false")
    scopes = _names(value.get("scopes", []), f"the scopes of role {role!r}")
    return RoleInfo(role, scopes, description, is_system)


class Roles:
    """A role table: role → scopes, and who counts as the default and the super-admin role.

    ``scopes`` declares the app's scopes with their descriptions (a list declares them without
    descriptions); see the module docstring for the rules."""

    __slots__ = ("_declared", "_default", "_explicit", "_info", "_roles", "_super")

    def __init__(
        self,
        roles: Mapping[str, Sequence[str] | Mapping[str, Any]] | None = None,
        *,
        default_role: str | None = None,
        super_admin_role: str | None = None,
        scopes: Mapping[str, str] | Sequence[str] | None = None,
    ) -> None:
        roles = {} if roles is None else roles
        if not isinstance(roles, Mapping):
            raise ConfigurationError("roles must map each role to a list of scopes")
        table: dict[str, tuple[str, ...]] = {}
        info: dict[str, RoleInfo] = {}
        for role, granted in roles.items():
            if not is_scope_token(role):
                raise ConfigurationError(
                    f'the role name {role!r} is not valid (printable ASCII without space, " or \\)'
                )
            info[role] = _role_entry(role, granted)
            table[role] = info[role].scopes

        declared: dict[str, str]
        if scopes is None:
            declared = {}
            for granted in table.values():
                declared.update((s, "") for s in granted)
        elif isinstance(scopes, Mapping):
            _names(list(scopes), "the declared scopes")
            declared = {}
            for scope, description in scopes.items():
                if not isinstance(description, str):
                    raise ConfigurationError(f"the description of scope {scope!r} must be a string")
                declared[scope] = description
        else:
            declared = dict.fromkeys(_names(scopes, "the declared scopes"), "")
        if scopes is not None:
            for role, granted in table.items():
                undeclared = [s for s in granted if s not in declared]
                if undeclared:
                    raise ConfigurationError(
                        f"role {role!r} grants scopes that are not declared: "
                        + ", ".join(undeclared)
                    )

        for what, name in (("default role", default_role), ("super-admin role", super_admin_role)):
            if name is not None and name not in table:
                known = ", ".join(table) or "none"
                raise ConfigurationError(
                    f"the {what} {name!r} is not one of the roles (known: {known})"
                )

        self._roles: Mapping[str, tuple[str, ...]] = MappingProxyType(table)
        self._info: Mapping[str, RoleInfo] = MappingProxyType(info)
        self._declared: Mapping[str, str] = MappingProxyType(declared)
        self._explicit = scopes is not None
        self._default = default_role
        self._super = super_admin_role

    def __repr__(self) -> str:
        return f"<Roles {list(self._roles)} default={self._default!r} super_admin={self._super!r}>"

    # --- the table ----------------------------------------------------------------------------

    @property
    def roles(self) -> Mapping[str, tuple[str, ...]]:
        """Each role and the scopes it lists (the super-admin role's own list, not every scope)."""
        return self._roles

    @property
    def info(self) -> Mapping[str, RoleInfo]:
        """Each role with its scopes, ``description`` and ``is_system`` flag."""
        return self._info

    @property
    def default_role(self) -> str | None:
        return self._default

    @property
    def super_admin_role(self) -> str | None:
        return self._super

    @property
    def declared_scopes(self) -> Mapping[str, str]:
        """Every declared scope and its description (empty when none was given)."""
        return self._declared

    @property
    def declares_scopes(self) -> bool:
        """Whether the scopes were declared explicitly (``scopes=``, the ``SCOPES`` setting):
        only then is a scope outside them an error."""
        return self._explicit

    def is_declared(self, scope: str) -> bool:
        return scope in self._declared

    def undeclared(self, scopes: Iterable[str]) -> tuple[str, ...]:
        """Those of ``scopes`` that are not declared; always empty when the scopes were not
        declared explicitly (there is nothing to hold them against)."""
        if not self._explicit:
            return ()
        return tuple(dict.fromkeys(s for s in scopes if s not in self._declared))

    # --- what roles grant ---------------------------------------------------------------------

    def roles_of(self, groups: Iterable[str]) -> tuple[str, ...]:
        """The roles among ``groups`` (a principal's groups), in their order; the default role
        alone when none of them is a role (empty when there is no default role)."""
        known = tuple(dict.fromkeys(g for g in groups if g in self._roles))
        if not known and self._default is not None:
            return (self._default,)
        return known

    def scopes_for_roles(self, roles: Iterable[str]) -> tuple[str, ...]:
        """The scopes ``roles`` grant, each once, in the order of the roles and their lists.
        Names that are not roles are ignored, and the default role applies when none is one."""
        out: dict[str, None] = {}
        for role in self.roles_of(roles):
            out.update(dict.fromkeys(self._roles[role]))
            if role == self._super:
                out.update(dict.fromkeys(self._declared))
        return tuple(out)

    def has_scope(self, roles: Iterable[str], scope: str) -> bool:
        return scope in self.scopes_for_roles(roles)

    def has_all_scopes(self, roles: Iterable[str], scopes: Iterable[str]) -> bool:
        granted = set(self.scopes_for_roles(roles))
        return all(s in granted for s in scopes)

    def has_any_scope(self, roles: Iterable[str], scopes: Iterable[str]) -> bool:
        granted = set(self.scopes_for_roles(roles))
        return any(s in granted for s in scopes)

    # --- principals ---------------------------------------------------------------------------

    def effective_scopes(self, principal: Principal) -> tuple[str, ...]:
        """The principal's own scopes (its token's), then those its roles grant (its groups and
        an account's roles: :func:`role_names`), each once."""
        own = tuple(principal.scopes)
        if not self._roles:
            return own
        return tuple(dict.fromkeys(own + self.scopes_for_roles(role_names(principal))))

    def missing_scopes(self, principal: Principal, scopes: Iterable[str]) -> tuple[str, ...]:
        """Those of ``scopes`` the principal does not hold (effective scopes)."""
        held = set(self.effective_scopes(principal))
        return tuple(dict.fromkeys(s for s in scopes if s not in held))
