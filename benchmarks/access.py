"""Entitlement checks on a 5-level hierarchy of 10,000 resources: ``AccessContext.can`` and
``can_all`` of 100 resources, on PostgreSQL (and SQLite beside it).

    python -m benchmarks.access [--quick] [--pg-url postgresql://…] [--no-postgres]

The hierarchy: 10 organizations, 40 divisions, 160 workspaces, 1,600 projects and 8,190 tasks
(10,000 resources, built with ``set_parent``, timed too). The user owns one organization; the
owner role passes down all five levels, so a check on a task reads its whole chain (five
resources) and the user's roles on each, in one query. Figures: the median µs per call of
several rounds of sequential calls, from this process (round trips included). PostgreSQL is
``--pg-url`` (or ``TOKENWARD_BENCH_PG_URL``), else a throwaway server from Debian's binaries
(tests/pg_server.py), else skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.api_keys import _postgres
from tokenward.access import AccessContext, AccessDefinition, define_access
from tokenward.stores import AccessStore, Resource, open_store

LEVELS = ("organization", "division", "workspace", "project", "task")
SIZES = (10, 40, 160, 1600, 8190)  # 10,000 resources in all
USER = "bench-user"


def definition() -> AccessDefinition:
    entities: dict[str, Any] = {"organization": {"roles": ["owner", "member"]}}
    for parent, child in itertools.pairwise(LEVELS):
        entities[child] = {
            "roles": ["owner", "member"],
            "inherits": {f"{parent}:owner": "owner", f"{parent}:member": "member"},
        }
    return define_access(
        entities=entities,
        entitlements={
            "task:edit": {"roles": ["owner"]},
            "task:read": {"roles": ["owner", "member"]},
        },
    )


def hierarchy() -> list[list[Resource]]:
    return [[(t, f"{t[0]}{i}") for i in range(n)] for t, n in zip(LEVELS, SIZES, strict=True)]


async def _build(store: AccessStore, levels: list[list[Resource]]) -> float:
    """Put every resource under a parent of the level above (round robin); seconds taken."""
    start = time.perf_counter()
    for parents, children in itertools.pairwise(levels):
        for i, child in enumerate(children):
            await store.set_parent(child, parents[i % len(parents)])
    await store.assign_role(USER, "owner", levels[0][0])
    return time.perf_counter() - start


async def _rounds(call: Any, n: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            await call()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


async def _measure(url: str, n: int, rounds: int) -> dict[str, Any]:
    store = open_store(url)
    assert isinstance(store, AccessStore)
    try:
        await store.open()  # type: ignore[attr-defined]
        levels = hierarchy()
        built = await _build(store, levels)
        tasks = levels[-1]
        mine = tasks[::10][:100]  # task i sits under organization i % 10
        ctx = AccessContext(USER, definition(), store)
        assert await ctx.can("task:edit", mine[0]), "the owner must reach a task"
        assert not await ctx.can("task:edit", tasks[1]), "another organization's task"
        batch = [("task:edit", t) for t in tasks[:100]]
        answers = await ctx.can_all(batch)
        assert len(answers) == 100

        async def one() -> None:
            await ctx.can("task:edit", mine[0])

        async def hundred() -> None:
            await ctx.can_all(batch)

        await _rounds(one, max(10, n // 10), 1)  # warm up
        can_us = await _rounds(one, n, rounds)
        can_all_us = await _rounds(hundred, max(5, n // 10), rounds)
        return {
            "resources": sum(SIZES),
            "levels": len(LEVELS),
            "build_s": round(built, 2),
            "can_us": can_us,
            "can_all_100_us": can_all_us,
            "can_all_100_per_check_us": can_all_us / 100,
            "calls_per_round": n,
            "rounds": rounds,
        }
    finally:
        await store.close()  # type: ignore[attr-defined]


def run(*, quick: bool = False, pg_url: str | None = None, postgres: bool = True) -> dict[str, Any]:
    n, rounds = (20, 1) if quick else (500, 5)
    results: dict[str, Any] = {}
    if postgres:
        with _postgres(pg_url) as (url, where):
            if url is None:
                results["postgres"] = {"error": f"PostgreSQL {where}"}
            else:
                row = asyncio.run(_measure(url, n, rounds))
                row["postgres"] = where
                results["postgres"] = row
    else:
        results["postgres"] = {"error": "skipped (--no-postgres)"}
    with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
        results["sqlite"] = asyncio.run(_measure(f"sqlite:///{Path(tmp) / 'a.db'}", n, rounds))
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"  {'store':<10} {'build':>9} {'can':>12} {'can_all(100)':>15} {'per check':>12}")
    for name, row in results.items():
        if "error" in row:
            print(f"  {name:<10} {row['error']}")
            continue
        print(
            f"  {name:<10} {row['build_s']:>7.1f} s {row['can_us']:>9.1f} µs "
            f"{row['can_all_100_us']:>12.1f} µs {row['can_all_100_per_check_us']:>9.1f} µs"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.access")
    parser.add_argument("--quick", action="store_true", help="few calls (smoke run)")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL database to use")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    print(
        "Entitlement checks, 5 levels, 10,000 resources (AccessContext.can, can_all of 100), "
        "median µs per call:"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print_table(run(quick=args.quick, pg_url=args.pg_url, postgres=not args.no_postgres))
    print(f"  load average at the start: {load} ({os.cpu_count()} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
