"""What the auth layer's store round trips cost: the login limiter, and REVOKE_ACCESS_TOKENS.

    python -m benchmarks.auth_layer [--number 200] [--rounds 7] [--stores sqlite,postgres]
                                    [--pg-url postgresql://...]

Every figure is µs per request through ASGI in this process (no HTTP parsing, no network: the
app's own cost, the store's included), the median of ``rounds`` rounds of ``number`` sequential
requests, the variants of one table interleaved round by round so that a noisy neighbour hits
them alike:

``login``
    ``POST /v1/auth/login`` with the right password and with a wrong one, through the router
    with the :class:`~tokenward.LoginLimiter` (its limits raised so that nothing is refused) and
    through one built without a guard. The difference is the limiter's cost per login: a good
    login pays a counter increment, a read and a delete; a failed one two increments and a read.
``direct``
    the same store calls without the app: the limiter's for a good and a failed login, one
    uncached session check.
``revoke``
    ``GET /protected`` (``Depends(require_current_user)``) with a custom-provider access token:
    REVOKE_ACCESS_TOKENS off; on with the default 5 s cache (one store read per session per 5 s);
    on with SESSION_CHECK_CACHE_TTL=0 (one store read per request).

Stores: SQLite (a file in a temporary directory) and PostgreSQL (``--pg-url``, else a throwaway
server on 127.0.0.1 started from the repository's tests/pg_server.py when the server binaries
are installed). The report is printed and written to benchmarks/results/auth_layer.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from tokenward.fastapi import Auth, AuthSettings, CurrentUser, require_current_user
from tokenward.fastapi.router import build_auth_router
from tokenward.stores import Store

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
EMAIL = "debug@example.com"
PASSWORD = "bench-debug-password"  # a throwaway password for an in-process run
PEER = ("127.0.0.1", 50000)
WRONG_EMAILS = 100  # failed logins rotate over these, so no email reaches its failure limit

StoreMaker = Callable[[], Store]


# --- ASGI calls ---------------------------------------------------------------------------------


async def call(
    app: Any, method: str, path: str, *, token: str | None = None, body: bytes = b""
) -> int:
    """One request through ``app``; returns the status."""
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"benchmarks/auth_layer")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode("ascii")))
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": PEER,
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # pragma: no cover - an app that reads twice
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def login_body(email: str, password: str) -> bytes:
    return json.dumps({"email": email, "password": password}).encode()


# --- the apps ------------------------------------------------------------------------------------


def make_auth(store: Store, **overrides: Any) -> Auth:
    values: dict[str, Any] = {
        "auth_secret": SECRET,
        "debug_email": EMAIL,
        "debug_password": PASSWORD,
        # high enough that the benchmark is never refused: the work is the same
        "login_max_per_address": 100_000,
        "login_max_failures": 1000,
        "refresh_max_per_address": 100_000,
    }
    values.update(overrides)
    return Auth(AuthSettings.from_env(prefix="TOKENWARD_BENCH_AUTH_LAYER_", **values), store=store)


def protected_app(auth: Auth) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/protected")
    async def protected(user: CurrentUser = Depends(require_current_user)) -> dict[str, str]:  # noqa: B008
        return {"sub": user.sub}

    app.include_router(auth.router)
    return app


def unguarded_app(auth: Auth) -> FastAPI:
    """The same auth router, built without the limiter."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(
        build_auth_router(
            current_user=require_current_user,
            signin=auth.provider,  # type: ignore[arg-type]
            sessions=auth.tokens,
            guard=None,
            client=auth.client,
        )
    )
    return app


@contextlib.asynccontextmanager
async def started(auth: Auth, app: FastAPI) -> AsyncIterator[FastAPI]:
    async with auth.lifespan(app):
        yield app


# --- timing --------------------------------------------------------------------------------------


async def timed(
    variants: dict[str, Callable[[int], Awaitable[int]]], number: int, rounds: int
) -> dict[str, dict[str, float]]:
    """µs per call of each variant: median (and spread) over rounds, variants interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    counter = 0
    for _ in range(rounds):
        for name, run in variants.items():
            t0 = time.perf_counter()
            for _ in range(number):
                counter += 1
                await run(counter)
            samples[name].append((time.perf_counter() - t0) / number * 1e6)
    return {
        name: {
            "median_us": round(statistics.median(s), 1),
            "min_us": round(min(s), 1),
            "max_us": round(max(s), 1),
        }
        for name, s in samples.items()
    }


def expect(status: int, wanted: int, what: str) -> int:
    if status != wanted:
        raise RuntimeError(f"{what} answered {status}, not {wanted}")
    return status


async def login_costs(stores: StoreMaker, number: int, rounds: int) -> dict[str, Any]:
    guarded_auth = make_auth(stores())
    plain_auth = make_auth(stores())
    good = login_body(EMAIL, PASSWORD)
    wrong = [login_body(f"nobody{i}@example.com", "wrong") for i in range(WRONG_EMAILS)]
    async with (
        started(guarded_auth, protected_app(guarded_auth)) as guarded,
        started(plain_auth, unguarded_app(plain_auth)) as plain,
    ):

        def good_login(app: Any, name: str) -> Callable[[int], Awaitable[int]]:
            async def run(i: int) -> int:
                return expect(await call(app, "POST", "/v1/auth/login", body=good), 200, name)

            return run

        def failed_login(app: Any, name: str) -> Callable[[int], Awaitable[int]]:
            async def run(i: int) -> int:
                body = wrong[i % WRONG_EMAILS]
                return expect(await call(app, "POST", "/v1/auth/login", body=body), 401, name)

            return run

        result = await timed(
            {
                "good login, limiter": good_login(guarded, "guarded login"),
                "good login, no limiter": good_login(plain, "plain login"),
                "failed login, limiter": failed_login(guarded, "guarded failed login"),
                "failed login, no limiter": failed_login(plain, "plain failed login"),
            },
            number,
            rounds,
        )
    result["limiter cost, good login"] = round(
        result["good login, limiter"]["median_us"] - result["good login, no limiter"]["median_us"],
        1,
    )
    result["limiter cost, failed login"] = round(
        result["failed login, limiter"]["median_us"]
        - result["failed login, no limiter"]["median_us"],
        1,
    )
    return result


async def revoke_costs(stores: StoreMaker, number: int, rounds: int) -> dict[str, Any]:
    off = make_auth(stores())
    cached = make_auth(stores(), revoke_access_tokens=True)
    uncached = make_auth(stores(), revoke_access_tokens=True, session_check_cache_ttl=0)
    async with (
        started(off, protected_app(off)) as off_app,
        started(cached, protected_app(cached)) as cached_app,
        started(uncached, protected_app(uncached)) as uncached_app,
    ):
        pair = await off.login(EMAIL, PASSWORD)
        assert pair is not None
        token = pair.access_token

        def get(app: Any, name: str) -> Callable[[int], Awaitable[int]]:
            async def run(i: int) -> int:
                return expect(await call(app, "GET", "/protected", token=token), 200, name)

            return run

        result: dict[str, Any] = await timed(
            {
                "REVOKE_ACCESS_TOKENS=false": get(off_app, "off"),
                "REVOKE_ACCESS_TOKENS=true, 5 s cache": get(cached_app, "cached"),
                "REVOKE_ACCESS_TOKENS=true, no cache": get(uncached_app, "uncached"),
            },
            number * 5,
            rounds,
        )
    base = result["REVOKE_ACCESS_TOKENS=false"]["median_us"]
    result["cost, cached"] = round(
        result["REVOKE_ACCESS_TOKENS=true, 5 s cache"]["median_us"] - base, 1
    )
    result["cost, uncached"] = round(
        result["REVOKE_ACCESS_TOKENS=true, no cache"]["median_us"] - base, 1
    )
    return result


async def direct_costs(stores: StoreMaker, number: int, rounds: int) -> dict[str, Any]:
    """The same store round trips without the app around them: the limiter's calls for one
    good and one failed login, and one uncached session check."""
    auth = make_auth(stores(), revoke_access_tokens=True, session_check_cache_ttl=0)
    async with started(auth, protected_app(auth)):
        limiter = auth.limiter
        tokens = auth.tokens
        assert tokens is not None
        pair = await auth.login(EMAIL, PASSWORD)
        assert pair is not None
        sid = tokens.verify_access(pair.access_token)["sid"]

        async def good(i: int) -> int:
            attempt = await limiter.check(EMAIL, "127.0.0.1")
            await attempt.succeeded()
            return 0

        async def failed(i: int) -> int:
            email = f"nobody{i % WRONG_EMAILS}@example.com"
            await limiter.check(email, "127.0.0.1")  # reserved: counts as a failure
            return 0

        async def live(i: int) -> int:
            if not await tokens.session_is_live(sid):
                raise RuntimeError("the session should be live")
            return 0

        return await timed(
            {
                "limiter calls of a good login": good,
                "limiter calls of a failed login": failed,
                "one session check (store read)": live,
            },
            number,
            rounds,
        )


# --- stores --------------------------------------------------------------------------------------


@contextlib.contextmanager
def store_maker(kind: str, pg_url: str | None) -> Iterator[StoreMaker | None]:
    """Makes stores on one fresh database of ``kind``; None when PostgreSQL cannot be had."""
    if kind == "sqlite":
        from tokenward.stores.sqlite import SQLiteStore

        with tempfile.TemporaryDirectory(prefix="tokenward-bench-") as tmp:
            path = Path(tmp) / "bench.db"
            yield lambda: SQLiteStore(path)
        return
    from tokenward.stores.postgres import PostgresStore

    if pg_url is not None:
        url = pg_url
        yield lambda: PostgresStore(url)
        return
    sys.path.insert(0, str(ROOT))
    try:
        from tests.pg_server import PostgresServer
    except ImportError:
        yield None
        return
    try:
        server = PostgresServer()
        server.__enter__()
    except RuntimeError as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield None
        return
    try:
        fresh = server.create_database("bench")
        yield lambda: PostgresStore(fresh)
    finally:
        server.__exit__(None, None, None)


def run(kinds: tuple[str, ...], pg_url: str | None, number: int, rounds: int) -> dict[str, Any]:
    report: dict[str, Any] = {"number": number, "rounds": rounds, "stores": {}}
    for kind in kinds:
        with store_maker(kind, pg_url) as maker:
            if maker is None:
                report["stores"][kind] = "unavailable"
                continue
            report["stores"][kind] = {
                "login": asyncio.run(login_costs(maker, number, rounds)),
                "revoke": asyncio.run(revoke_costs(maker, number, rounds)),
                "direct": asyncio.run(direct_costs(maker, number, rounds)),
            }
    return report


def print_report(report: dict[str, Any]) -> None:
    for kind, result in report["stores"].items():
        print(f"\n== {kind}")
        if not isinstance(result, dict):
            print(f"   {result}")
            continue
        for table in ("login", "revoke", "direct"):
            for name, value in result[table].items():
                if isinstance(value, dict):
                    print(
                        f"   {name:40} median {value['median_us']:9.1f} µs"
                        f"   best round {value['min_us']:9.1f}   worst {value['max_us']:9.1f}"
                    )
                else:
                    print(f"   {name:40} {value:+9.1f} µs (difference of the medians)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auth_layer")
    parser.add_argument("--number", type=int, default=200, help="logins per variant and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--pg-url", default=None, help="a PostgreSQL database to use (it gains tokenward's tables)"
    )
    parser.add_argument("--output", default=str(ROOT / "benchmarks/results/auth_layer.json"))
    args = parser.parse_args(argv)
    kinds = tuple(k for k in args.stores.split(",") if k)
    report = run(kinds, args.pg_url, args.number, args.rounds)
    print_report(report)
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
