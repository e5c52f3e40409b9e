"""The AccessStore contract (role assignments, the resource hierarchy as a closure table): every
test runs on SQLite, on PostgreSQL and on the memory store (the ``backend`` fixture)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tokenward.exceptions import HierarchyError
from tokenward.stores import MAX_BULK_RESOURCES, AccessStore, ResourceChain, RoleAssignment

if TYPE_CHECKING:
    from tests.stores.conftest import Backend

ORG = ("organization", "o1")
WS = ("workspace", "w1")
PROJ = ("project", "p1")


def test_both_backends_are_access_stores(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        assert isinstance(store, AccessStore)

    backend.run(scenario)


def test_assign_and_revoke_report_whether_they_changed_anything(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        assert await store.assign_role("u1", "owner", ORG) is True
        assert await store.assign_role("u1", "owner", ORG) is False
        assert await store.assign_role("u1", "member", ORG) is True
        assert await store.assign_role("u2", "member", WS) is True
        assert await store.role_assignments("u1") == [
            RoleAssignment("u1", "member", ORG),
            RoleAssignment("u1", "owner", ORG),
        ]
        assert await store.revoke_role("u1", "owner", ORG) is True
        assert await store.revoke_role("u1", "owner", ORG) is False
        assert await store.role_assignments("u1") == [RoleAssignment("u1", "member", ORG)]
        assert await store.role_assignments("nobody") == []

    backend.run(scenario)


def test_a_resource_never_seen_is_a_root_without_roles(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        chains = await store.resource_chains("u1", [PROJ])
        assert chains == {PROJ: ResourceChain((PROJ,), (frozenset(),))}
        assert await store.resource_chains("u1", []) == {}

    backend.run(scenario)


def test_a_chain_lists_every_ancestor_and_the_users_roles_on_each(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        await store.set_parent(WS, ORG)
        await store.set_parent(PROJ, WS)
        await store.assign_role("u1", "owner", ORG)
        await store.assign_role("u1", "member", ORG)
        await store.assign_role("u1", "viewer", PROJ)
        await store.assign_role("u2", "admin", WS)  # another user's: not in u1's chain
        chain = (await store.resource_chains("u1", [PROJ]))[PROJ]
        assert chain.resources == (PROJ, WS, ORG)
        assert chain.roles == (frozenset({"viewer"}), frozenset(), frozenset({"owner", "member"}))
        other = await store.resource_chains("u2", [PROJ, WS])
        assert other[PROJ].roles == (frozenset(), frozenset({"admin"}), frozenset())
        assert other[WS].resources == (WS, ORG)

    backend.run(scenario)


def test_moving_a_subtree_moves_every_descendant(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        org2 = ("organization", "o2")
        await store.set_parent(WS, ORG)
        await store.set_parent(PROJ, WS)
        await store.set_parent(("task", "t1"), PROJ)
        await store.set_parent(WS, org2)  # the workspace and all below move to o2
        chains = await store.resource_chains("u1", [("task", "t1"), PROJ])
        assert chains[("task", "t1")].resources == (("task", "t1"), PROJ, WS, org2)
        assert chains[PROJ].resources == (PROJ, WS, org2)
        await store.set_parent(WS, org2)  # the same parent again changes nothing
        assert (await store.resource_chains("u1", [PROJ]))[PROJ].resources == (PROJ, WS, org2)
        await store.set_parent(PROJ, None)  # detached: a root with its own subtree
        chains = await store.resource_chains("u1", [("task", "t1"), PROJ, WS])
        assert chains[("task", "t1")].resources == (("task", "t1"), PROJ)
        assert chains[PROJ].resources == (PROJ,)
        assert chains[WS].resources == (WS, org2)

    backend.run(scenario)


def test_a_cycle_is_refused_and_nothing_changes(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        await store.set_parent(WS, ORG)
        await store.set_parent(PROJ, WS)
        for parent in (PROJ, WS, ORG):
            with pytest.raises(HierarchyError):
                await store.set_parent(ORG, parent)
        with pytest.raises(HierarchyError, match="cycle"):
            await store.set_parent(WS, PROJ)
        assert (await store.resource_chains("u", [PROJ]))[PROJ].resources == (PROJ, WS, ORG)

    backend.run(scenario)


def test_concurrent_opposite_moves_never_make_a_cycle(backend: Backend) -> None:
    """Two stores (two connections) each try to put one of two resources under the other at
    once, many times over: at most one move of each pair succeeds."""
    a, b = ("folder", "a"), ("folder", "b")

    async def scenario(one: AccessStore, two: AccessStore) -> None:
        for _ in range(10):
            await one.set_parent(a, None)
            await one.set_parent(b, None)
            results = await asyncio.gather(
                one.set_parent(a, b), two.set_parent(b, a), return_exceptions=True
            )
            assert sum(isinstance(r, HierarchyError) for r in results) == 1, results
            chains = await one.resource_chains("u", [a, b])
            assert len(chains[a].resources) + len(chains[b].resources) == 3

    backend.run(scenario, stores=2)


def test_a_bulk_chain_query_takes_up_to_the_limit(backend: Backend) -> None:
    async def scenario(store: AccessStore) -> None:
        await store.set_parent(WS, ORG)
        await store.assign_role("u1", "owner", ORG)
        projects = [("project", f"p{i}") for i in range(MAX_BULK_RESOURCES)]
        for project in projects[:10]:
            await store.set_parent(project, WS)
        chains = await store.resource_chains("u1", projects)
        assert len(chains) == MAX_BULK_RESOURCES
        assert chains[projects[0]].roles == (frozenset(), frozenset(), frozenset({"owner"}))
        assert chains[projects[50]].resources == (projects[50],)
        with pytest.raises(ValueError, match="at most"):
            await store.resource_chains("u1", [*projects, ("project", "one more")])

    backend.run(scenario)


@pytest.mark.parametrize(
    "resource", [("project",), ("", "p1"), ("project", ""), ("project", "x" * 257), "project:p1"]
)
def test_malformed_resources_and_names_are_refused(backend: Backend, resource: object) -> None:
    async def scenario(store: AccessStore) -> None:
        with pytest.raises(ValueError, match="pair"):
            await store.assign_role("u1", "owner", resource)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="pair"):
            await store.set_parent(PROJ, resource)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="pair"):
            await store.resource_chains("u1", [resource])  # type: ignore[list-item]
        with pytest.raises(ValueError, match="role"):
            await store.assign_role("u1", "", PROJ)
        with pytest.raises(HierarchyError):
            await store.set_parent(PROJ, PROJ)

    backend.run(scenario)


def test_a_version_2_sqlite_file_gains_the_access_tables(tmp_path: Path) -> None:
    """A file at versions 1 and 2 is migrated to 5; versions not recorded are applied even
    when a higher one is (so a version 3 added later reaches files already at 4)."""
    from tokenward.stores._sqlite_schema import MIGRATIONS
    from tokenward.stores.sqlite import SQLiteStore

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE tokenward_schema_version (version INTEGER NOT NULL)")
    for number, statements in MIGRATIONS:
        if number <= 2:
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO tokenward_schema_version VALUES (?)", (number,))
    conn.close()

    async def scenario() -> None:
        store = SQLiteStore(path)
        try:
            assert await store.assign_role("u1", "owner", ORG)
            assert await store.schema_version() == 8
        finally:
            await store.close()

    asyncio.run(scenario())
    versions = sqlite3.connect(path).execute("SELECT version FROM tokenward_schema_version")
    assert sorted(v for (v,) in versions) == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_version_merged_below_the_highest_is_still_applied(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at versions ..., 2, 4 meets a tokenward that also knows a version 3 (merged
    later, as the API-key schema may be): the next start applies 3 and records it."""
    if backend.name == "memory":
        pytest.skip("the memory store has no schema to migrate")
    if backend.name == "sqlite":
        from tokenward.stores import _sqlite_schema as schema

        name, table = "MIGRATIONS", "CREATE TABLE tokenward_later_three (x INTEGER)"
    else:
        from tokenward.stores import postgres as schema  # type: ignore[no-redef]

        name, table = "_MIGRATIONS", "CREATE TABLE tokenward_later_three (x INTEGER)"

    async def versions(store: AccessStore) -> list[int]:
        assert await store.assign_role("u1", "owner", ORG)
        return await store.schema_version()  # type: ignore[attr-defined, no-any-return]

    assert backend.run(versions) == 8
    merged = tuple(sorted((*getattr(schema, name), (3, (table,)))))
    monkeypatch.setattr(schema, name, merged)

    async def again(store: AccessStore) -> None:
        assert await store.role_assignments("u1") == [RoleAssignment("u1", "owner", ORG)]

    backend.run(again)
    monkeypatch.undo()

    async def recorded(store: Any) -> list[int]:
        if backend.name == "sqlite":
            return await store._run(  # type: ignore[no-any-return]
                lambda conn: sorted(
                    v for (v,) in conn.execute("SELECT version FROM tokenward_schema_version")
                )
            )

        async def work(conn: Any) -> list[int]:
            cur = await conn.execute("SELECT version FROM tokenward_schema_version")
            return sorted(v for (v,) in await cur.fetchall())

        return await store._run(work)  # type: ignore[no-any-return]

    found = backend.run(recorded)
    assert 3 in found and found[-1] == 8
