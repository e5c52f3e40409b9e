"""Verifier.verify_async: the event loop keeps running while a key fetch hangs.

The loop-lag test is a behavioural check, not a benchmark: a fetch hangs for 2 s while a ticker
coroutine measures the longest gap between its 10 ms ticks; a blocked loop would show a gap of
about 2 s, a free one stays far below the 0.5 s margin.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

import tokenward as tw
from jwks_server import JWKSServer

ISS = "https://issuer.example"
HANG = 2.0


@pytest.fixture(scope="module")
def key() -> tw.JWK:
    return tw.JWK.generate("RS256")


@pytest.fixture
def server(key: tw.JWK) -> Iterator[JWKSServer]:
    srv = JWKSServer().start()
    srv.keys = [key]
    try:
        yield srv
    finally:
        srv.stop()


def token(key: tw.JWK) -> str:
    return tw.encode({"iss": ISS, "sub": "u1", "exp": int(time.time()) + 600}, key)


async def max_loop_gap(work: asyncio.Future[object]) -> float:
    """Tick every 10 ms until ``work`` is done; return the longest gap between ticks."""
    gap = 0.0
    last = time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gap = max(gap, now - last)
        last = now
    return gap


def test_static_keys_verify_async(key: tw.JWK) -> None:
    v = tw.Verifier(key.public(), algorithms=["RS256"], issuer=ISS)
    assert type(v).verify is tw._core.Verifier.verify  # the native method, no Python frame
    assert asyncio.run(v.verify_async(token(key)))["sub"] == "u1"
    with pytest.raises(tw.InvalidSignatureError):
        asyncio.run(v.verify_async(token(tw.JWK.generate("RS256"))[:-4] + "AAAA"))


def test_the_loop_runs_while_a_fetch_hangs(server: JWKSServer, key: tw.JWK) -> None:
    server.default = "hang"
    server.hang_seconds = HANG
    v = tw.Verifier(
        tw.RemoteJWKS(server.url, read_timeout=HANG + 3, deadline=HANG + 5),
        algorithms=["RS256"],
        issuer=ISS,
    )

    async def main() -> tuple[float, float, list[dict[str, object]]]:
        started = time.perf_counter()
        work = asyncio.gather(*(v.verify_async(token(key)) for _ in range(20)))
        gap = await max_loop_gap(work)
        return gap, time.perf_counter() - started, await work

    gap, elapsed, results = asyncio.run(main())
    assert [r["sub"] for r in results] == ["u1"] * 20
    assert elapsed >= HANG * 0.9  # the fetch really hung...
    assert gap < 0.5, f"the event loop stalled for {gap:.3f} s"  # ...and the loop kept running
    assert server.requests == 1
    print(f"loop lag while a {HANG:g} s fetch hung: max gap {gap * 1000:.1f} ms")


def test_the_loop_runs_while_a_fetch_times_out(server: JWKSServer, key: tw.JWK) -> None:
    server.default = "hang"
    server.hang_seconds = 10.0
    v = tw.Verifier(
        tw.RemoteJWKS(server.url, read_timeout=1.0, retries=1, retry_backoff=0.1),
        algorithms=["RS256"],
    )

    async def main() -> float:
        work = asyncio.ensure_future(v.verify_async(token(key)))
        gap = await max_loop_gap(work)
        with pytest.raises(tw.KeySetUnavailableError):
            await work
        return gap

    assert asyncio.run(main()) < 0.5
    assert server.requests == 2


def test_cached_keys_serve_while_a_refresh_is_in_flight(server: JWKSServer, key: tw.JWK) -> None:
    """Keys past their ttl are refreshed by one caller; the others do not wait for it."""
    now = [0.0]
    jwks = tw.RemoteJWKS(server.url, read_timeout=HANG + 3, clock=lambda: now[0])
    v = tw.Verifier(jwks, algorithms=["RS256"], issuer=ISS)

    async def main() -> None:
        await v.verify_async(token(key))
        server.default = "hang"
        server.hang_seconds = HANG
        now[0] += 601
        refresher = asyncio.ensure_future(v.verify_async(token(key)))
        await asyncio.to_thread(server.wait_for_request)  # the first fetch
        await asyncio.to_thread(server.wait_for_request)  # the refresh is now hanging
        for _ in range(10):
            assert (await v.verify_async(token(key)))["sub"] == "u1"
        assert not refresher.done()  # all ten passed while the refresh still hung
        assert (await refresher)["sub"] == "u1"

    asyncio.run(main())
    assert server.requests == 2
    assert jwks.generation == 2


def test_a_cancelled_caller_does_not_cancel_the_shared_fetch(
    server: JWKSServer, key: tw.JWK
) -> None:
    server.default = "hang"
    server.hang_seconds = 0.5
    v = tw.Verifier(tw.RemoteJWKS(server.url), algorithms=["RS256"], issuer=ISS)

    async def main() -> dict[str, object]:
        first = asyncio.ensure_future(v.verify_async(token(key)))  # it runs the fetch
        await asyncio.to_thread(server.wait_for_request)
        second = asyncio.ensure_future(v.verify_async(token(key)))
        await asyncio.sleep(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert asyncio.run(main())["sub"] == "u1"
    assert server.requests == 1


def test_separate_event_loops_share_the_cache(server: JWKSServer, key: tw.JWK) -> None:
    v = tw.Verifier(tw.RemoteJWKS(server.url), algorithms=["RS256"], issuer=ISS)
    for _ in range(3):
        assert asyncio.run(v.verify_async(token(key)))["sub"] == "u1"
    assert v.verify(token(key))["sub"] == "u1"
    assert server.requests == 1
