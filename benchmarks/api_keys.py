"""API-key requests against access-token requests on the same protected route, in process.

    python -m benchmarks.api_keys [--quick] [--pg-url postgresql://…] [--no-postgres] [--lookup]

The app is benchmarks/fastapi_app.py's (``GET /protected`` behind ``require_current_user``) with
the custom provider, driven through httpx's ASGI transport (no sockets: what is measured is the
app, the dependency and the store). Each configuration — SQLite file or PostgreSQL, and
``API_KEY_CACHE_TTL`` 5 (a key is looked up once per 5 s) or 0 (looked up on every request) —
times sequential requests with ``Authorization: Bearer <access token>`` and with
``Authorization: Bearer vk_…`` and prints the median µs per request of several rounds and their
ratio. PostgreSQL is ``--pg-url`` (or ``TOKENWARD_BENCH_PG_URL``), else a throwaway server from
Debian's binaries (tests/pg_server.py), else skipped.

:func:`lookup_timing` (``--lookup``, and a section of ``make bench``) times refused keys: an
unknown prefix against a known prefix with a wrong secret (issue 20 item 9), each request timed
alone, the two interleaved, at least 2,000 samples of each, with ``API_KEY_CACHE_TTL`` 5 and 0.
It prints the two medians and their ratio: an attacker must not tell them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from benchmarks.fastapi_app import create_app
from tokenward._core import ApiKeyHasher
from tokenward.fastapi import Auth, AuthSettings
from tokenward.principal import Principal

SECRET = "api-key benchmark secret, 0123456789abcdef"
TTLS = (5.0, 0.0)


@contextlib.contextmanager
def _postgres(url: str | None) -> Iterator[tuple[str | None, str]]:
    """A PostgreSQL URL to benchmark on, and where it came from (or None and why not)."""
    url = url or os.environ.get("TOKENWARD_BENCH_PG_URL")
    if url:
        yield url, "given"
        return
    try:
        import psycopg  # noqa: F401
        from tests.pg_server import PostgresServer
    except ImportError as exc:
        yield None, f"unavailable: {exc}"
        return
    try:
        server = PostgresServer()
        server.start()
    except RuntimeError as exc:
        yield None, f"unavailable: {str(exc).splitlines()[0]}"
        return
    try:
        yield server.create_database("bench_api_keys"), "throwaway server"
    finally:
        server.close()


@contextlib.asynccontextmanager
async def _client(store_url: str, ttl: float) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """A client of the app over ``store_url``, an access token and an API key of one user."""
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_BENCH_ISOLATED_",
        auth_secret=SECRET,
        store_url=store_url,
        api_key_cache_ttl=ttl,
    )
    auth = Auth(settings)
    app = create_app(auth)
    async with auth.lifespan(app):
        pair = await auth.login(settings.debug_email, settings.debug_password.get_secret_value())
        assert pair is not None
        owner = Principal(subject="bench-user", credential_type="access_token", provider="custom")
        made = await auth.api_keys.create(owner, name="bench")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client, pair.access_token, made.key


async def _lookup_samples(store_url: str, ttl: float, n: int) -> dict[str, Any]:
    """Median µs of ``n`` refused requests with an unknown prefix and ``n`` with a known prefix
    and a wrong secret, interleaved (so drift in the machine's load hits both)."""
    async with _client(store_url, ttl) as (client, _token, key):
        hasher = ApiKeyHasher(SECRET)
        unknown, _ = hasher.new_key()
        at = len(ApiKeyHasher.prefix_of(key)) + 5
        wrong = key[:at] + ("A" if key[at] != "A" else "B") + key[at + 1 :]
        headers = {
            "unknown prefix": {"Authorization": f"Bearer {unknown}"},
            "wrong secret": {"Authorization": f"Bearer {wrong}"},
        }
        samples: dict[str, list[float]] = {name: [] for name in headers}
        for i in range(n + max(10, n // 10)):  # the first ones warm up both paths
            for name in sorted(headers, reverse=i % 2 == 1):  # alternate which goes first
                start = time.perf_counter()
                response = await client.get("/protected", headers=headers[name])
                took = (time.perf_counter() - start) * 1e6
                if response.status_code != 401:
                    raise RuntimeError(f"{name}: /protected answered {response.status_code}")
                if i >= max(10, n // 10):
                    samples[name].append(took)
    unknown_us = statistics.median(samples["unknown prefix"])
    wrong_us = statistics.median(samples["wrong secret"])
    return {
        "unknown_prefix_us": unknown_us,
        "wrong_secret_us": wrong_us,
        "ratio": unknown_us / wrong_us,
        "samples_each": n,
    }


def lookup_timing(
    *, quick: bool = False, pg_url: str | None = None, postgres: bool = True
) -> dict[str, Any]:
    """Refused keys, unknown prefix against wrong secret, per store and cache TTL (rows keyed
    ``<backend> ttl=<s>``); at least 2,000 samples each unless ``quick``."""
    n = 50 if quick else 2000
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        for ttl in TTLS:
            results[f"sqlite ttl={ttl:g}"] = asyncio.run(_lookup_samples(sqlite_url, ttl, n))
    if not postgres:
        results["postgres"] = {"error": "skipped (--no-postgres)"}
        return results
    with _postgres(pg_url) as (url, where):
        if url is None:
            results["postgres"] = {"error": f"PostgreSQL {where}"}
        else:
            for ttl in TTLS:
                row = asyncio.run(_lookup_samples(url, ttl, n))
                row["postgres"] = where
                results[f"postgres ttl={ttl:g}"] = row
    return results


def print_lookup_table(results: dict[str, Any]) -> None:
    print(
        f"  {'store, API_KEY_CACHE_TTL':<26} {'unknown prefix':>16} {'wrong secret':>14} "
        f"{'ratio':>7}  samples"
    )
    for name, row in results.items():
        if "error" in row:
            print(f"  {name:<26} {row['error']}")
            continue
        print(
            f"  {name:<26} {row['unknown_prefix_us']:>13.1f} µs {row['wrong_secret_us']:>11.1f} µs "
            f"{row['ratio']:>6.3f}x  {row['samples_each']} each"
        )


async def _time(client: httpx.AsyncClient, credential: str, n: int) -> float:
    """µs per request of ``n`` sequential requests."""
    headers = {"Authorization": f"Bearer {credential}"}
    start = time.perf_counter()
    for _ in range(n):
        response = await client.get("/protected", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"/protected answered {response.status_code}: {response.text}")
    return (time.perf_counter() - start) / n * 1e6


async def _measure(store_url: str, ttl: float, n: int, rounds: int) -> dict[str, Any]:
    async with _client(store_url, ttl) as (client, token, key):
        await _time(client, token, max(10, n // 10))  # warm up both paths
        await _time(client, key, max(10, n // 10))
        token_us, key_us, ratios = [], [], []
        for _ in range(rounds):  # interleaved, so drift in the machine's load hits both
            t = await _time(client, token, n)
            k = await _time(client, key, n)
            token_us.append(t)
            key_us.append(k)
            ratios.append(k / t)
    return {
        "access_token_us": statistics.median(token_us),
        "api_key_us": statistics.median(key_us),
        "ratio": statistics.median(ratios),
        "requests_per_round": n,
        "rounds": rounds,
    }


def run(*, quick: bool = False, pg_url: str | None = None, postgres: bool = True) -> dict[str, Any]:
    """Every configuration; a dict for the report (rows keyed ``<backend> ttl=<s>``)."""
    n, rounds = (20, 1) if quick else (500, 5)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        for ttl in TTLS:
            results[f"sqlite ttl={ttl:g}"] = asyncio.run(_measure(sqlite_url, ttl, n, rounds))
    if not postgres:
        results["postgres"] = {"error": "skipped (--no-postgres)"}
        return results
    with _postgres(pg_url) as (url, where):
        if url is None:
            results["postgres"] = {"error": f"PostgreSQL {where}"}
        else:
            for ttl in TTLS:
                row = asyncio.run(_measure(url, ttl, n, rounds))
                row["postgres"] = where
                results[f"postgres ttl={ttl:g}"] = row
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"  {'store, API_KEY_CACHE_TTL':<26} {'access token':>14} {'API key':>12} {'ratio':>8}")
    for name, row in results.items():
        if "error" in row:
            print(f"  {name:<26} {row['error']}")
            continue
        print(
            f"  {name:<26} {row['access_token_us']:>11.1f} µs {row['api_key_us']:>9.1f} µs "
            f"{row['ratio']:>7.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_keys")
    parser.add_argument("--quick", action="store_true", help="few requests (smoke run)")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL database to use")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--lookup",
        action="store_true",
        help="only the refused-key timing: unknown prefix against wrong secret",
    )
    args = parser.parse_args(argv)
    log = logging.getLogger("tokenward")
    level = log.level
    log.setLevel(logging.ERROR)  # the development-mode warnings, once per configuration
    try:
        _report(args)
    finally:
        log.setLevel(level)
    return 0


def _report(args: argparse.Namespace) -> None:
    if args.lookup:
        print(
            "Refused API keys, GET /protected in process: unknown prefix against a known prefix "
            "with a wrong secret, median µs per request (each request timed alone):"
        )
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        table = lookup_timing(quick=args.quick, pg_url=args.pg_url, postgres=not args.no_postgres)
        print_lookup_table(table)
        print(f"  load average at the start: {load} ({os.cpu_count()} CPUs)")
        return
    print(
        "API key vs access token, GET /protected in process (httpx ASGI transport), "
        "median µs per request:"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    results = run(quick=args.quick, pg_url=args.pg_url, postgres=not args.no_postgres)
    print_table(results)
    print(f"  load average at the start: {load} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    raise SystemExit(main())
