"""tokenward.access: the definition's checks, AccessContext's answers (on SQLite and PostgreSQL),
and the access set."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tokenward.access import (
    HIERARCHY_DENIED,
    PLAN_REQUIRED,
    ROLE_REQUIRED,
    AccessContext,
    AccessDefinition,
    compute_access_set,
    decode_access_set,
    define_access,
    encode_access_set,
    parse_resource,
)
from tokenward.exceptions import AuthorizationError, ConfigurationError
from tokenward.stores import AccessStore, Resource

ENTITIES: dict[str, Any] = {
    "organization": {"roles": ["owner", "member"]},
    "workspace": {
        "roles": ["admin", "viewer"],
        "inherits": {"organization:owner": "admin", "organization:member": "viewer"},
    },
    "project": {
        "roles": ["manager", "contributor", "viewer"],
        "inherits": {"workspace:admin": "manager", "workspace:viewer": "viewer"},
    },
}
ENTITLEMENTS: dict[str, Any] = {
    "organization:billing": {"roles": ["owner"]},
    "workspace:create-project": {"roles": ["admin"]},
    "project:read": {"roles": ["viewer", "contributor", "manager"]},
    "project:edit": {"roles": ["contributor", "manager"]},
    "project:delete": {"roles": ["manager"]},
    "project:export": {"roles": ["manager"], "plans": ["pro"]},
}
PLANS: dict[str, Any] = {"free": {}, "pro": {"description": "Pro", "entitlements": []}}


def definition() -> AccessDefinition:
    return define_access(entities=ENTITIES, entitlements=ENTITLEMENTS, plans=PLANS)


ORG = ("organization", "o1")
WS = ("workspace", "w1")
PROJ = ("project", "p1")
OTHER = ("project", "elsewhere")


# --- the definition -------------------------------------------------------------------------


def test_a_definition_is_frozen_and_fingerprinted() -> None:
    access = definition()
    assert access.entities["project"].inherits[("workspace", "admin")] == "manager"
    assert access.entitlements["project:export"].plans == ("pro",)
    assert set(access.plans) == {"free", "pro"}
    assert access.fingerprint == definition().fingerprint
    with pytest.raises(TypeError):
        access.entitlements["x"] = None  # type: ignore[index]


@pytest.mark.parametrize(
    ("entities", "entitlements", "plans", "named"),
    [
        ({"a": {"roles": []}}, {}, None, "'a' has no roles"),
        ({"a": {"roles": ["r"], "inherits": {"b:r": "r"}}}, {}, None, "unknown entity 'b'"),
        (
            {"a": {"roles": ["r"]}, "b": {"roles": ["s"], "inherits": {"a:x": "s"}}},
            {},
            None,
            "no role 'x'",
        ),
        (
            {"a": {"roles": ["r"]}, "b": {"roles": ["s"], "inherits": {"a:r": "t"}}},
            {},
            None,
            "unknown role 't'",
        ),
        (
            {
                "a": {"roles": ["r"], "inherits": {"c:r": "r"}},
                "b": {"roles": ["r"], "inherits": {"a:r": "r"}},
                "c": {"roles": ["r"], "inherits": {"b:r": "r"}},
            },
            {},
            None,
            "inheritance cycle between entities: a -> c -> b -> a",
        ),
        (
            {"a": {"roles": ["r"], "inherits": {"a:r": "r"}}},
            {},
            None,
            "cycle between entities: a -> a",
        ),
        ({"a": {"roles": ["r"]}}, {"b:do": {"roles": ["r"]}}, None, "unknown entity 'b'"),
        ({"a": {"roles": ["r"]}}, {"a:do": {"roles": ["x"]}}, None, "unknown role 'x'"),
        ({"a": {"roles": ["r"]}}, {"a:do": {"roles": []}}, None, "at least one role"),
        ({"a": {"roles": ["r"]}}, {"ado": {"roles": ["r"]}}, None, "'entity:action'"),
        (
            {"a": {"roles": ["r"]}},
            {"a:do": {"roles": ["r"], "plans": ["gold"]}},
            ["pro"],
            "unknown plan 'gold'",
        ),
        (
            {"a": {"roles": ["r"]}},
            {},
            {"pro": {"entitlements": ["a:nope"]}},
            "unknown entitlement 'a:nope'",
        ),
        ({"a": {"roles": ["r"], "extra": 1}}, {}, None, "unknown keys: extra"),
        ({"a b": {"roles": ["r"]}}, {}, None, "not a valid name"),
    ],
)
def test_a_broken_definition_is_refused_naming_the_culprit(
    entities: Any, entitlements: Any, plans: Any, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named.replace("(", r"\(")):
        define_access(entities=entities, entitlements=entitlements, plans=plans)


def test_plans_may_list_their_entitlements_and_undeclared_plans_come_from_entitlements() -> None:
    access = define_access(
        entities={"a": {"roles": ["r"]}},
        entitlements={"a:do": {"roles": ["r"]}, "a:more": {"roles": ["r"], "plans": ["gold"]}},
        plans={"pro": {"entitlements": ["a:do"]}, "gold": "Gold"},
    )
    assert access.entitlements["a:do"].plans == ("pro",)
    assert access.plans["gold"].description == "Gold"
    implicit = define_access(
        entities={"a": {"roles": ["r"]}},
        entitlements={"a:do": {"roles": ["r"], "plans": ["pro"]}},
    )
    assert list(implicit.plans) == ["pro"]


def test_parse_resource() -> None:
    assert parse_resource("project:p1") == PROJ
    assert parse_resource("file:a:b") == ("file", "a:b")
    for bad in ("project", ":p1", "project:"):
        with pytest.raises(ValueError):
            parse_resource(bad)


# --- AccessContext, on both stores ----------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def run(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[Callable[[AccessStore], Awaitable[Any]]], Any]:
    """``run(scenario)``: ``scenario(store)`` on a fresh store of the parameter's backend."""
    if request.param == "sqlite":
        from tokenward.stores.sqlite import SQLiteStore

        def make() -> Any:
            return SQLiteStore(tmp_path / "access.db")
    else:
        from tokenward.stores.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")

        def make() -> Any:
            return PostgresStore(url)

    def runner(scenario: Callable[[AccessStore], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            store = make()
            try:
                await store.set_parent(WS, ORG)
                await store.set_parent(PROJ, WS)
                return await scenario(store)
            finally:
                await store.close()

        return asyncio.run(main())

    return runner


def test_an_organization_owner_manages_projects_three_levels_down(run: Any) -> None:
    """owner on the organization -> admin on its workspace -> manager on its project."""

    async def scenario(store: AccessStore) -> None:
        await store.assign_role("alice", "owner", ORG)
        ctx = AccessContext("alice", definition(), store)
        assert await ctx.can("project:delete", PROJ)
        assert await ctx.can("workspace:create-project", WS)
        assert await ctx.can("organization:billing", ORG)
        result = await ctx.check("project:delete", PROJ)
        assert result.allowed and result.reasons == () and result.reason is None
        # A member passes down only viewer: reading, not deleting.
        await store.assign_role("bob", "member", ORG)
        bob = AccessContext("bob", definition(), store)
        assert await bob.can("project:read", PROJ)
        assert not await bob.can("project:delete", PROJ)
        # Roles do not pass up: a project manager is nothing on the workspace.
        await store.assign_role("carol", "manager", PROJ)
        carol = AccessContext("carol", definition(), store)
        assert await carol.can("project:delete", PROJ)
        assert not await carol.can("workspace:create-project", WS)
        # Revoking takes effect at the next check; moving a project away too.
        await store.revoke_role("alice", "owner", ORG)
        assert not await ctx.can("project:delete", PROJ)
        assert await bob.can("project:read", PROJ)
        await store.set_parent(PROJ, None)
        assert not await bob.can("project:read", PROJ)

    run(scenario)


def test_every_denial_reason(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        access = definition()
        await store.assign_role("member", "member", ORG)
        await store.assign_role("owner", "owner", ORG)
        # role_required: a role on the chain, but none that does.
        result = await AccessContext("member", access, store).check("project:delete", PROJ)
        assert not result.allowed
        assert result.reasons == (ROLE_REQUIRED,)
        assert result.reason == ROLE_REQUIRED
        assert result.meta.required_roles == ("manager",)
        # hierarchy_denied: no role anywhere on the resource's chain.
        result = await AccessContext("member", access, store).check("project:read", OTHER)
        assert result.reasons == (ROLE_REQUIRED, HIERARCHY_DENIED)
        # plan_required: the role is there, the plan is not.
        plan = {"o1": "free"}
        owner = AccessContext("owner", access, store, plan_of=lambda chain: plan[chain[-1][1]])
        result = await owner.check("project:export", PROJ)
        assert result.reasons == (PLAN_REQUIRED,)
        assert result.meta.required_plans == ("pro",)
        assert result.meta.plan == "free"
        # All three at once, plan first.
        stranger = AccessContext("stranger", access, store, plan_of=lambda chain: None)
        result = await stranger.check("project:export", PROJ)
        assert result.reasons == (PLAN_REQUIRED, ROLE_REQUIRED, HIERARCHY_DENIED)
        assert result.reason == PLAN_REQUIRED

    run(scenario)


def test_plan_gating(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        await store.assign_role("owner", "owner", ORG)
        asked: list[tuple[Resource, ...]] = []

        async def plan_of(chain: tuple[Resource, ...]) -> str | None:
            asked.append(chain)
            return plans.get(chain[-1][1])

        plans = {"o1": "pro"}
        ctx = AccessContext("owner", definition(), store, plan_of=plan_of)
        assert await ctx.can("project:export", PROJ)
        assert asked == [(PROJ, WS, ORG)]
        assert await ctx.can("project:delete", PROJ)  # no plan needed: plan_of not asked
        assert len(asked) == 1
        plans["o1"] = "free"
        assert not await ctx.can("project:export", PROJ)
        # Without plan_of a plan-gated entitlement is always denied.
        assert not await AccessContext("owner", definition(), store).can("project:export", PROJ)

    run(scenario)


def test_authorize_raises_with_the_entitlement_and_the_user(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        ctx = AccessContext("mallory", definition(), store)
        with pytest.raises(AuthorizationError) as caught:
            await ctx.authorize("project:delete", PROJ)
        assert caught.value.entitlement == "project:delete"
        assert caught.value.user_id == caught.value.subject == "mallory"
        assert caught.value.reasons == (ROLE_REQUIRED, HIERARCHY_DENIED)
        await store.assign_role("mallory", "manager", PROJ)
        assert (await ctx.authorize("project:delete", PROJ)).allowed

    run(scenario)


def test_bulk_checks_answer_each_pair(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        await store.assign_role("bob", "member", ORG)
        projects = [("project", f"bulk{i}") for i in range(100)]
        for project in projects[:50]:
            await store.set_parent(project, WS)
        ctx = AccessContext("bob", definition(), store)
        checks = [("project:read", p) for p in projects] + [("project:delete", projects[0])]
        answers = await ctx.can_all(checks)
        assert len(answers) == 101
        assert all(answers[("project:read", p)] for p in projects[:50])
        assert not any(answers[("project:read", p)] for p in projects[50:])
        assert answers[("project:delete", projects[0])] is False
        detailed = await ctx.check_all([("project:read", projects[99])])
        assert detailed[("project:read", projects[99])].reasons == (
            ROLE_REQUIRED,
            HIERARCHY_DENIED,
        )
        assert await ctx.can_all([]) == {}
        with pytest.raises(ValueError, match="at most 100"):
            await ctx.can_all([*checks, ("project:read", ("project", "one more"))])

    run(scenario)


def test_misuse_is_a_configuration_error(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        ctx = AccessContext("u", definition(), store)
        with pytest.raises(ConfigurationError, match="unknown entitlement 'project:fly'"):
            await ctx.can("project:fly", PROJ)
        with pytest.raises(ConfigurationError, match="applies to project resources"):
            await ctx.can("project:read", WS)
        with pytest.raises(ValueError):
            await ctx.can("project:read", ("project", ""))

    run(scenario)


def test_an_access_context_needs_an_access_store() -> None:
    with pytest.raises(ConfigurationError, match="not an AccessStore"):
        AccessContext("u", definition(), object())  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AccessContext("", definition(), object())  # type: ignore[arg-type]


# --- the access set -------------------------------------------------------------------------


def test_the_access_set_round_trips_sparse_and_tells_stale_sets(run: Any) -> None:
    async def scenario(store: AccessStore) -> None:
        access = definition()
        await store.assign_role("owner", "owner", ORG)
        full = await compute_access_set("owner", access, store, plan="free")
        assert full.allowed == {
            "organization:billing",
            "workspace:create-project",
            "project:read",
            "project:edit",
            "project:delete",
        }
        assert full.denied == {"project:export": (PLAN_REQUIRED,)}
        encoded = encode_access_set(full)
        assert encoded["p"] == {"project:export": ["pro"]}
        assert "project:export" not in encoded["a"]
        back = decode_access_set(encoded, access)
        assert back == full
        assert back.can("project:delete") and not back.can("project:export")

        await store.assign_role("member", "member", ORG)
        member = await compute_access_set("member", access, store)
        assert member.allowed == {"project:read"}
        small = encode_access_set(member)
        assert small == {"v": 1, "a": ["project:read"], "h": member.hash}  # denials left out
        assert decode_access_set(small, access).denied["project:delete"] == (ROLE_REQUIRED,)

        # A changed role changes the hash: the server tells the token's set is stale.
        await store.assign_role("member", "owner", ORG)
        assert (await compute_access_set("member", access, store)).hash != member.hash
        # An altered set, or one made under another definition, does not decode.
        with pytest.raises(ValueError, match="hash"):
            decode_access_set({**small, "a": ["project:read", "project:delete"]}, access)
        other = define_access(
            entities=ENTITIES,
            entitlements={**ENTITLEMENTS, "project:archive": {"roles": ["manager"]}},
        )
        with pytest.raises(ValueError, match="hash"):
            decode_access_set(small, other)
        for bad in (None, {"v": 2}, {"v": 1, "a": "x", "h": ""}, {"v": 1, "a": [], "h": 3}):
            with pytest.raises(ValueError):
                decode_access_set(bad, access)

    run(scenario)
