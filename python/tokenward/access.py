"""Entitlements: roles on resources, inherited down a resource hierarchy, optionally gated by plans.

An access definition names the entities (resource types) with their roles and how roles pass
down the hierarchy, and the entitlements (what may be done) with the roles, and optionally the
plans, they need::

    access = define_access(
        entities={
            "organization": {"roles": ["owner", "member"]},
            "workspace": {
                "roles": ["admin", "viewer"],
                "inherits": {"organization:owner": "admin", "organization:member": "viewer"},
            },
            "project": {
                "roles": ["manager", "viewer"],
                "inherits": {"workspace:admin": "manager", "workspace:viewer": "viewer"},
            },
        },
        entitlements={
            "project:read": {"roles": ["viewer", "manager"]},
            "project:delete": {"roles": ["manager"]},
            "project:export": {"roles": ["manager"], "plans": ["pro"]},
        },
        plans={"free": {}, "pro": {"description": "Pro"}},
    )

    ctx = AccessContext(user_id, access, store, plan_of=lambda chain: plan_by_org[chain[-1][1]])
    await ctx.can("project:delete", ("project", "p1"))
    result = await ctx.check("project:export", ("project", "p1"))   # allowed, reasons, meta
    await ctx.authorize("project:delete", ("project", "p1"))        # or AuthorizationError

A role on a resource reaches the resource's child when the child's entity ``inherits`` it
(``"parent entity:role" -> "role of the child"``), and so on down, one level at a time. An
entitlement ``"entity:action"`` applies to resources of that entity; the user needs one of its
roles there, held directly or inherited. The definition is checked when it is made: an unknown
entity, role or plan, or entities inheriting from each other in a circle, is a
:class:`~tokenward.ConfigurationError` naming it.

Role assignments and the hierarchy live in an :class:`~tokenward.stores.AccessStore`; one check
(or :meth:`AccessContext.can_all` of up to 100) costs one query, whatever the depth. The access
set (:func:`compute_access_set`) is a per-user summary for a client's UI, advisory only: the
server checks again before any change. Nothing here imports a web framework.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from tokenward.exceptions import AuthorizationError, ConfigurationError
from tokenward.principal import Principal
from tokenward.stores.base import (
    MAX_BULK_RESOURCES,
    AccessStore,
    Resource,
    ResourceChain,
    _check_resource,
)

__all__ = [
    "ACCESS_SET_CLAIM",
    "HIERARCHY_DENIED",
    "PLAN_REQUIRED",
    "REASONS",
    "ROLE_REQUIRED",
    "AccessCheck",
    "AccessContext",
    "AccessDefinition",
    "AccessSet",
    "DenialMeta",
    "Entitlement",
    "Entity",
    "Plan",
    "PlanOf",
    "access_set_claims",
    "access_set_is_current",
    "compute_access_set",
    "decode_access_set",
    "define_access",
    "encode_access_set",
    "parse_resource",
]

ACCESS_SET_CLAIM = "acl"  # the access-token claim ACCESS_SET_IN_TOKEN=true adds

PLAN_REQUIRED = "plan_required"  # the entitlement needs a plan the resource's owner is not on
ROLE_REQUIRED = "role_required"  # the user holds none of its roles there (directly or inherited)
HIERARCHY_DENIED = "hierarchy_denied"  # the user holds no role on the resource nor any ancestor
REASONS = (PLAN_REQUIRED, ROLE_REQUIRED, HIERARCHY_DENIED)  # the order reasons are listed in

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

PlanOf = Callable[[tuple[Resource, ...]], "str | Awaitable[str | None] | None"]
"""Given a resource's chain (the resource first, then its parent, ..., the root last), the plan
that applies to it (often the root organization's), or None; may be a coroutine function."""


# --- the definition -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity:
    """A resource type: its roles, and which roles of a parent entity become which of its own."""

    name: str
    roles: tuple[str, ...]
    inherits: Mapping[tuple[str, str], str]  # (parent entity, parent role) -> role here


@dataclass(frozen=True, slots=True)
class Entitlement:
    """``entity:action``: needs one of ``roles`` on a resource of ``entity`` and, when ``plans``
    is not empty, one of those plans."""

    name: str
    entity: str
    roles: tuple[str, ...]
    plans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Plan:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class AccessDefinition:
    """What :func:`define_access` returns; immutable."""

    entities: Mapping[str, Entity]
    entitlements: Mapping[str, Entitlement]
    plans: Mapping[str, Plan]
    fingerprint: str  # a hash of the definition, part of every access set's hash

    def entitlement(self, name: str) -> Entitlement:
        """The entitlement named ``name``; ConfigurationError for an unknown one."""
        found = self.entitlements.get(name)
        if found is None:
            known = ", ".join(sorted(self.entitlements)) or "none"
            raise ConfigurationError(f"unknown entitlement {name!r} (known: {known})")
        return found

    def effective_roles(self, chain: ResourceChain) -> frozenset[str]:
        """The roles a user holds on ``chain.resources[0]``: its direct ones, and those its
        roles on each ancestor pass down, level by level, through the entities' ``inherits``."""
        held: frozenset[str] = frozenset()
        parent_type: str | None = None
        for (rtype, _), direct in zip(
            reversed(chain.resources), reversed(chain.roles), strict=True
        ):
            entity = self.entities.get(rtype)
            passed: set[str] = set()
            if entity is not None and parent_type is not None:
                for role in held:
                    inherited = entity.inherits.get((parent_type, role))
                    if inherited is not None:
                        passed.add(inherited)
            held = frozenset(passed | direct)
            parent_type = rtype
        return held

    def reachable_roles(self, entity: str, role: str) -> dict[str, set[str]]:
        """Entity -> the roles that ``role`` on ``entity`` gives on resources of that entity
        wherever they sit below (itself included), following ``inherits`` by entity types."""
        out: dict[str, set[str]] = {entity: {role}}
        frontier = [(entity, role)]
        while frontier:
            parent, parent_role = frontier.pop()
            for child in self.entities.values():
                inherited = child.inherits.get((parent, parent_role))
                if inherited is not None and inherited not in out.setdefault(child.name, set()):
                    out[child.name].add(inherited)
                    frontier.append((child.name, inherited))
        return out


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise ConfigurationError(
            f"{what} {value!r:.80} is not a valid name (1 to 64 letters, digits, _ . -)"
        )
    return value


def _name_list(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigurationError(f"{what} must be a list of names")
    return tuple(dict.fromkeys(_name(v, what) for v in value))


def _spec(value: object, what: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{what} must be a mapping")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise ConfigurationError(f"{what} has unknown keys: {', '.join(unknown)}")
    return value


def _entities(spec: object) -> dict[str, Entity]:
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigurationError("entities must map each entity to its roles")
    roles_of: dict[str, tuple[str, ...]] = {}
    for name, body in spec.items():
        _name(name, "the entity")
        body = _spec(body, f"entity {name!r}", {"roles", "inherits"})
        roles_of[name] = _name_list(body.get("roles", ()), f"the roles of entity {name!r}")
        if not roles_of[name]:
            raise ConfigurationError(f"entity {name!r} has no roles")
    out: dict[str, Entity] = {}
    for name, body in spec.items():
        inherits: dict[tuple[str, str], str] = {}
        table = body.get("inherits") or {}
        if not isinstance(table, Mapping):
            raise ConfigurationError(f"the inherits of entity {name!r} must be a mapping")
        for key, role in table.items():
            parent, _, parent_role = str(key).partition(":")
            if parent not in roles_of:
                raise ConfigurationError(
                    f"entity {name!r} inherits from {key!r}: unknown entity {parent!r}"
                )
            if parent_role not in roles_of[parent]:
                raise ConfigurationError(
                    f"entity {name!r} inherits from {key!r}: {parent!r} has no role "
                    f"{parent_role!r} (its roles: {', '.join(roles_of[parent])})"
                )
            if role not in roles_of[name]:
                raise ConfigurationError(
                    f"entity {name!r} inherits {key!r} as unknown role {role!r} "
                    f"(its roles: {', '.join(roles_of[name])})"
                )
            inherits[(parent, parent_role)] = role
        out[name] = Entity(name, roles_of[name], MappingProxyType(inherits))
    _refuse_cycles(out)
    return out


def _refuse_cycles(entities: Mapping[str, Entity]) -> None:
    """ConfigurationError naming the entities when inheritance goes round in a circle."""
    parents = {n: sorted({p for p, _ in e.inherits}) for n, e in entities.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for parent in parents[node]:
            if state.get(parent) == 1:
                circle = [*path[path.index(parent) :], parent]
                raise ConfigurationError(
                    "inheritance cycle between entities: " + " -> ".join(circle)
                )
            if parent not in state:
                visit(parent, [*path, parent])
        state[node] = 2

    for node in sorted(parents):
        if node not in state:
            visit(node, [node])


def _plans(spec: object) -> tuple[dict[str, Plan], dict[str, list[str]]]:
    """The declared plans, and for each plan the entitlements it lists (``entitlements``)."""
    if spec is None:
        return {}, {}
    if isinstance(spec, str | bytes) or not isinstance(spec, Mapping | Sequence):
        raise ConfigurationError("plans must be a list of plan names or a mapping")
    if not isinstance(spec, Mapping):
        return {n: Plan(n) for n in _name_list(spec, "the plan")}, {}
    plans: dict[str, Plan] = {}
    lists: dict[str, list[str]] = {}
    for name, body in spec.items():
        _name(name, "the plan")
        body = {} if body is None else body
        if isinstance(body, str):
            body = {"description": body}
        body = _spec(body, f"plan {name!r}", {"description", "entitlements"})
        description = body.get("description", "")
        if not isinstance(description, str):
            raise ConfigurationError(f"the description of plan {name!r} must be a string")
        plans[name] = Plan(name, description)
        listed = body.get("entitlements", ())
        if isinstance(listed, str | bytes) or not isinstance(listed, Sequence):
            raise ConfigurationError(f"the entitlements of plan {name!r} must be a list")
        lists[name] = [str(e) for e in listed]
    return plans, lists


def define_access(
    *,
    entities: Mapping[str, Mapping[str, Any]],
    entitlements: Mapping[str, Mapping[str, Any]],
    plans: Mapping[str, Any] | Sequence[str] | None = None,
) -> AccessDefinition:
    """Check and freeze an access definition (see the module docstring for its shape).

    ``plans``, when given, declares the plans (a list of names, or name -> ``{"description":
    ..., "entitlements": [...]}``; a plan's ``entitlements`` adds it to those entitlements'
    ``plans``); an entitlement naming an undeclared plan is then an error. Without it, the plans
    are those the entitlements name."""
    entity_table = _entities(entities)
    plan_table, plan_lists = _plans(plans)
    if not isinstance(entitlements, Mapping):
        raise ConfigurationError("entitlements must map each entitlement to its roles")
    ent_table: dict[str, Entitlement] = {}
    for name, body in entitlements.items():
        entity_name, sep, action = str(name).partition(":")
        if not sep or _NAME.fullmatch(action) is None:
            raise ConfigurationError(f"the entitlement {name!r} is not named 'entity:action'")
        entity = entity_table.get(entity_name)
        if entity is None:
            raise ConfigurationError(
                f"the entitlement {name!r} names unknown entity {entity_name!r} "
                f"(known: {', '.join(entity_table)})"
            )
        body = _spec(body, f"entitlement {name!r}", {"roles", "plans"})
        roles = _name_list(body.get("roles", ()), f"the roles of entitlement {name!r}")
        if not roles:
            raise ConfigurationError(f"the entitlement {name!r} needs at least one role")
        unknown = [r for r in roles if r not in entity.roles]
        if unknown:
            raise ConfigurationError(
                f"the entitlement {name!r} needs unknown role {unknown[0]!r} of entity "
                f"{entity_name!r} (its roles: {', '.join(entity.roles)})"
            )
        needs = list(_name_list(body.get("plans", ()), f"the plans of entitlement {name!r}"))
        ent_table[name] = Entitlement(name, entity_name, roles, tuple(needs))
    for plan, listed in plan_lists.items():
        for name in listed:
            if name not in ent_table:
                raise ConfigurationError(f"plan {plan!r} lists unknown entitlement {name!r}")
            old = ent_table[name]
            if plan not in old.plans:
                ent_table[name] = Entitlement(old.name, old.entity, old.roles, (*old.plans, plan))
    for ent in ent_table.values():
        for plan in ent.plans:
            if plans is None:
                plan_table.setdefault(plan, Plan(plan))
            elif plan not in plan_table:
                raise ConfigurationError(
                    f"the entitlement {ent.name!r} needs unknown plan {plan!r} "
                    f"(declared: {', '.join(plan_table) or 'none'})"
                )
    canonical = json.dumps(
        {
            "entities": {
                n: [list(e.roles), sorted(f"{p}:{r}>{v}" for (p, r), v in e.inherits.items())]
                for n, e in sorted(entity_table.items())
            },
            "entitlements": {
                n: [list(e.roles), list(e.plans)] for n, e in sorted(ent_table.items())
            },
            "plans": sorted(plan_table),
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    return AccessDefinition(
        entities=MappingProxyType(entity_table),
        entitlements=MappingProxyType(ent_table),
        plans=MappingProxyType(plan_table),
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest()[:16],
    )


def parse_resource(text: str) -> Resource:
    """``"project:p1"`` as ``("project", "p1")`` (the id may hold colons); ValueError otherwise."""
    rtype, sep, rid = text.partition(":")
    if not sep:
        raise ValueError(f"a resource is written type:id, not {text!r:.80}")
    return _check_resource((rtype, rid))


# --- checks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DenialMeta:
    """Details of a denial: the roles that would do (``role_required``), the plans that would
    (``plan_required``) and the plan that applies (None when unknown)."""

    required_roles: tuple[str, ...] = ()
    required_plans: tuple[str, ...] = ()
    plan: str | None = None


@dataclass(frozen=True, slots=True)
class AccessCheck:
    """The answer to one check: ``allowed``, and when not, every reason (``reasons``, in the
    order of :data:`REASONS`; ``reason`` is the first) with their ``meta``."""

    entitlement: str
    resource: Resource
    allowed: bool
    reasons: tuple[str, ...] = ()
    meta: DenialMeta = field(default_factory=DenialMeta)

    @property
    def reason(self) -> str | None:
        return self.reasons[0] if self.reasons else None

    def __bool__(self) -> bool:
        return self.allowed


class AccessContext:
    """Checks of one user's entitlements on resources, against ``access`` and ``store``.

    ``plan_of`` tells the plan that applies to a resource, given its chain (see
    :data:`PlanOf`); without it, an entitlement that needs a plan is always denied
    (``plan_required``). It is asked only for entitlements that need a plan."""

    def __init__(
        self,
        user_id: str,
        access: AccessDefinition,
        store: AccessStore,
        plan_of: PlanOf | None = None,
    ) -> None:
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("an access context needs the user's id")
        if not isinstance(store, AccessStore):
            raise ConfigurationError(
                f"{type(store).__name__} keeps no role assignments (not an AccessStore)"
            )
        self.user_id = user_id
        self.access = access
        self.store = store
        self.plan_of = plan_of

    def __repr__(self) -> str:
        return f"<AccessContext user={self.user_id!r}>"

    def _target(self, entitlement: str, resource: Resource) -> tuple[Entitlement, Resource]:
        ent = self.access.entitlement(entitlement)
        target = _check_resource(resource)
        if target[0] != ent.entity:
            raise ConfigurationError(
                f"the entitlement {entitlement!r} applies to {ent.entity} resources, "
                f"not to a {target[0]}"
            )
        return ent, target

    async def _plan(self, chain: ResourceChain) -> str | None:
        if self.plan_of is None:
            return None
        plan = self.plan_of(chain.resources)
        if inspect.isawaitable(plan):
            plan = await plan
        return plan if isinstance(plan, str) else None

    async def _decide(
        self, ent: Entitlement, resource: Resource, chain: ResourceChain
    ) -> AccessCheck:
        reasons: list[str] = []
        required_roles: tuple[str, ...] = ()
        required_plans: tuple[str, ...] = ()
        plan: str | None = None
        if ent.plans:
            plan = await self._plan(chain)
            if plan not in ent.plans:
                reasons.append(PLAN_REQUIRED)
                required_plans = ent.plans
        held = self.access.effective_roles(chain)
        if not any(r in held for r in ent.roles):
            reasons.append(ROLE_REQUIRED)
            required_roles = ent.roles
            if not any(chain.roles):
                reasons.append(HIERARCHY_DENIED)
        return AccessCheck(
            entitlement=ent.name,
            resource=resource,
            allowed=not reasons,
            reasons=tuple(reasons),
            meta=DenialMeta(required_roles, required_plans, plan),
        )

    async def check(self, entitlement: str, resource: Resource) -> AccessCheck:
        """Whether the user may ``entitlement`` on ``resource``, with every reason when not.
        One store query. ConfigurationError for an unknown entitlement or a resource of
        another entity; ValueError for a malformed resource."""
        ent, target = self._target(entitlement, resource)
        chains = await self.store.resource_chains(self.user_id, [target])
        return await self._decide(ent, target, chains[target])

    async def can(self, entitlement: str, resource: Resource) -> bool:
        return (await self.check(entitlement, resource)).allowed

    async def authorize(self, entitlement: str, resource: Resource) -> AccessCheck:
        """:meth:`check`, raising :class:`~tokenward.AuthorizationError` (with
        ``.entitlement``, ``.user_id`` and ``.reasons``) when it is denied."""
        result = await self.check(entitlement, resource)
        if not result.allowed:
            raise AuthorizationError(
                f"{self.user_id} may not {entitlement} on {resource[0]}:{resource[1]} "
                f"({', '.join(result.reasons)})",
                entitlement=entitlement,
                user_id=self.user_id,
                reasons=result.reasons,
            )
        return result

    async def check_all(
        self, checks: Iterable[tuple[str, Resource]]
    ) -> dict[tuple[str, Resource], AccessCheck]:
        """:meth:`check` of each (entitlement, resource) pair, at most
        :data:`~tokenward.stores.MAX_BULK_RESOURCES` distinct resources, in one store query."""
        targets = [self._target(name, resource) for name, resource in checks]
        resources = list(dict.fromkeys(r for _, r in targets))
        if len(resources) > MAX_BULK_RESOURCES:
            raise ValueError(f"at most {MAX_BULK_RESOURCES} resources at once")
        chains = await self.store.resource_chains(self.user_id, resources) if resources else {}
        out: dict[tuple[str, Resource], AccessCheck] = {}
        for ent, resource in targets:
            if (ent.name, resource) not in out:
                out[(ent.name, resource)] = await self._decide(ent, resource, chains[resource])
        return out

    async def is_current(self, encoded: object, *, plan: str | None = None) -> bool:
        """Whether ``encoded`` (an access set from a token's ``acl`` claim, say) is still this
        user's set: see :func:`access_set_is_current`. Advisory, like the set: a change is
        still checked with :meth:`authorize`."""
        return await access_set_is_current(
            encoded, self.user_id, self.access, self.store, plan=plan
        )

    async def can_all(
        self, checks: Iterable[tuple[str, Resource]]
    ) -> dict[tuple[str, Resource], bool]:
        """:meth:`can` of each pair, in one store query (see :meth:`check_all`)."""
        return {key: result.allowed for key, result in (await self.check_all(checks)).items()}


# --- the access set -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccessSet:
    """What a user may do anywhere, per entitlement, for a client's UI (advisory: the server
    checks each change again). ``allowed`` holds the entitlements the user has a role for on
    some resource; ``denied`` maps the others to their reasons; ``plans`` maps each entitlement
    denied for a plan to the plans that would allow it. ``hash`` identifies the content and
    the definition, so a server can tell a stale set from the current one."""

    allowed: frozenset[str]
    denied: Mapping[str, tuple[str, ...]]
    plans: Mapping[str, tuple[str, ...]]
    hash: str

    def can(self, entitlement: str) -> bool:
        return entitlement in self.allowed


def _set_hash(fingerprint: str, allowed: Iterable[str], denied: Mapping[str, Sequence[str]]) -> str:
    """The hash of what an encoded set keeps: the definition, the allowed entitlements and
    those denied for a plan only."""
    plan_only = sorted(n for n, reasons in denied.items() if tuple(reasons) == (PLAN_REQUIRED,))
    canonical = json.dumps([fingerprint, sorted(allowed), plan_only], separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()[:12]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def compute_access_set(
    user_id: str,
    access: AccessDefinition,
    store: AccessStore,
    *,
    plan: str | None = None,
) -> AccessSet:
    """The user's access set, from one store query (the user's role assignments).

    An entitlement is allowed when some role the user holds passes down (by the entities'
    ``inherits``) to one of its roles on its entity, and, when it needs plans, ``plan`` (the
    user's plan, e.g. their organization's) is one of them."""
    reachable: dict[str, set[str]] = {}
    for assignment in await store.role_assignments(user_id):
        if assignment.resource[0] not in access.entities:
            continue
        for entity, roles in access.reachable_roles(
            assignment.resource[0], assignment.role
        ).items():
            reachable.setdefault(entity, set()).update(roles)
    allowed: set[str] = set()
    denied: dict[str, tuple[str, ...]] = {}
    plans: dict[str, tuple[str, ...]] = {}
    for name, ent in access.entitlements.items():
        reasons: list[str] = []
        if ent.plans and plan not in ent.plans:
            reasons.append(PLAN_REQUIRED)
            plans[name] = ent.plans
        if not any(r in reachable.get(ent.entity, ()) for r in ent.roles):
            reasons.append(ROLE_REQUIRED)
        if reasons:
            denied[name] = tuple(reasons)
        else:
            allowed.add(name)
    return AccessSet(
        allowed=frozenset(allowed),
        denied=MappingProxyType(denied),
        plans=MappingProxyType(plans),
        hash=_set_hash(access.fingerprint, allowed, denied),
    )


def encode_access_set(access_set: AccessSet) -> dict[str, Any]:
    """The set as a small JSON object for a token claim, sparse: the allowed entitlements
    (``"a"``), the ones denied for a plan only with the plans that would allow them (``"p"``),
    and the hash (``"h"``). Entitlements denied for lack of a role are left out: a decoder
    counts every entitlement it is not told about as denied."""
    plan_only = {
        name: list(access_set.plans[name])
        for name, reasons in sorted(access_set.denied.items())
        if reasons == (PLAN_REQUIRED,)
    }
    out: dict[str, Any] = {"v": 1, "a": sorted(access_set.allowed), "h": access_set.hash}
    if plan_only:
        out["p"] = plan_only
    return out


def decode_access_set(encoded: object, access: AccessDefinition) -> AccessSet:
    """An :func:`encode_access_set` object back as an :class:`AccessSet` for ``access``
    (entitlements it is not told about are denied, ``role_required``; whether they would also
    need a plan is not kept). ValueError for anything
    malformed, and for a set whose hash does not match its content under this definition (made
    under another definition, or altered)."""
    if not isinstance(encoded, Mapping) or encoded.get("v") != 1:
        raise ValueError("not an encoded access set (version 1)")
    allowed_list = encoded.get("a")
    plan_only = encoded.get("p", {})
    given_hash = encoded.get("h")
    if (
        not isinstance(allowed_list, list)
        or not all(isinstance(n, str) for n in allowed_list)
        or not isinstance(plan_only, Mapping)
        or not isinstance(given_hash, str)
    ):
        raise ValueError("a malformed access set")
    allowed = {n for n in allowed_list if n in access.entitlements}
    denied: dict[str, tuple[str, ...]] = {}
    plans: dict[str, tuple[str, ...]] = {}
    for name, ent in access.entitlements.items():
        if name in allowed:
            continue
        if name in plan_only:
            denied[name] = (PLAN_REQUIRED,)
            plans[name] = ent.plans
        else:
            denied[name] = (ROLE_REQUIRED,)
    result = AccessSet(
        allowed=frozenset(allowed),
        denied=MappingProxyType(denied),
        plans=MappingProxyType(plans),
        hash=_set_hash(access.fingerprint, allowed, denied),
    )
    if result.hash != given_hash:
        raise ValueError("the access set's hash does not match (stale or altered)")
    return result


def _given_hash(encoded: object) -> str | None:
    if isinstance(encoded, Mapping) and encoded.get("v") == 1:
        given = encoded.get("h")
        return given if isinstance(given, str) else None
    return None


async def access_set_is_current(
    encoded: object,
    user_id: str,
    access: AccessDefinition,
    store: AccessStore,
    *,
    plan: str | None = None,
) -> bool:
    """Whether an encoded access set (:func:`encode_access_set`, e.g. the ``acl`` claim of an
    access token) is the one :func:`compute_access_set` gives the user now: its hash is the
    current one. False for a stale set (a role granted or revoked since, another definition or
    plan), and for anything that is not an encoded set or whose hash does not match its own
    content. One store query."""
    given = _given_hash(encoded)
    if given is None:
        return False
    try:
        decode_access_set(encoded, access)
    except ValueError:
        return False
    current = await compute_access_set(user_id, access, store, plan=plan)
    return hmac.compare_digest(current.hash, given)


def access_set_claims(
    access: AccessDefinition | None,
    store: object,
    *,
    plan_of_user: Callable[[str], str | Awaitable[str | None] | None] | None = None,
    claim: str = ACCESS_SET_CLAIM,
) -> Callable[[Principal], Awaitable[dict[str, Any]]]:
    """``async (who) -> {claim: encoded set}``: the user's access set (``who.subject`` is the
    user id) for their access tokens, the :class:`~tokenward.tokens.TokenService`'s
    ``extra_claims`` when ``ACCESS_SET_IN_TOKEN=true``. ``plan_of_user`` gives a user's plan
    (for plan-gated entitlements; may be a coroutine function). The set is advisory: tell a
    stale one with :func:`access_set_is_current`, and check every change again."""
    if not isinstance(access, AccessDefinition):
        raise ConfigurationError(
            "ACCESS_SET_IN_TOKEN=true needs an access definition: Auth(settings, access=...)"
        )
    if not isinstance(store, AccessStore):
        raise ConfigurationError(
            f"{type(store).__name__} keeps no role assignments (not an AccessStore)"
        )
    definition, assignments = access, store  # narrowed, for the closure

    async def claims(who: Principal) -> dict[str, Any]:
        plan = None
        if plan_of_user is not None:
            found = plan_of_user(who.subject)
            plan = await found if inspect.isawaitable(found) else found
        computed = await compute_access_set(who.subject, definition, assignments, plan=plan)
        return {claim: encode_access_set(computed)}

    return claims
