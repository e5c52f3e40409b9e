"""RemoteJWKS against a fault-injecting JWKS server on loopback (tests/jwks_server.py).

Time in the cache (ttl, cooldown, stale bound) runs on an injected clock, so nothing here waits
for minutes; network faults are real (a real server, real sockets, real timeouts).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest

import tokenward as tw
from jwks_server import JWKSServer

ISS = "https://issuer.example"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> list[tw.JWK]:
    return [tw.JWK.generate("RS256") for _ in range(3)]


@pytest.fixture
def server(keys: list[tw.JWK]) -> Iterator[JWKSServer]:
    srv = JWKSServer().start()
    srv.keys = [keys[0]]
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def remote(server: JWKSServer, clock: Clock, **kwargs: object) -> tw.RemoteJWKS:
    options: dict[str, object] = {
        "clock": clock,
        "connect_timeout": 1.0,
        "read_timeout": 1.0,
        "deadline": 2.0,
        "retry_backoff": 0.0,
    }
    options.update(kwargs)
    return tw.RemoteJWKS(server.url, **options)  # type: ignore[arg-type]


def verifier(jwks: tw.RemoteJWKS) -> tw.Verifier:
    return tw.Verifier(jwks, algorithms=["RS256"], issuer=ISS)


def token(key: tw.JWK, **headers: str) -> str:
    return tw.encode({"iss": ISS, "sub": "u1", "exp": int(time.time()) + 600}, key, headers)


def forged(key: tw.JWK, other: tw.JWK) -> str:
    """A token that names ``key``'s kid but is signed by ``other``."""
    assert key.kid is not None
    return token(other, kid=key.kid)


# --- basics ---------------------------------------------------------------------------------


def test_fetches_once_and_serves_from_the_cache(server: JWKSServer, clock: Clock, keys) -> None:
    jwks = remote(server, clock)
    v = verifier(jwks)
    assert isinstance(v, tw.Verifier)
    for _ in range(20):
        assert v.verify(token(keys[0]))["sub"] == "u1"
    assert server.requests == 1
    assert jwks.generation == 1
    assert v.keys.get(keys[0].kid or "") is not None


def test_keys_are_refreshed_after_the_ttl(server: JWKSServer, clock: Clock, keys) -> None:
    jwks = remote(server, clock, ttl=600)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    clock.now += 599
    v.verify(token(keys[0]))
    assert server.requests == 1
    clock.now += 2
    v.verify(token(keys[0]))
    assert server.requests == 2


def test_prefetch_warms_the_cache_and_ignores_the_cooldown(
    server: JWKSServer, clock: Clock, keys
) -> None:
    jwks = remote(server, clock)
    assert len(jwks.prefetch()) == 1
    assert len(jwks.prefetch()) == 1
    assert server.requests == 2
    verifier(jwks).verify(token(keys[0]))
    assert server.requests == 2


def test_key_set_unavailable_is_not_an_invalid_token_error() -> None:
    assert issubclass(tw.KeySetUnavailableError, tw.TokenwardError)
    assert not issubclass(tw.KeySetUnavailableError, tw.InvalidTokenError)


def test_cold_start_without_a_server_is_unavailable(clock: Clock, keys) -> None:
    jwks = tw.RemoteJWKS("http://127.0.0.1:9/jwks.json", clock=clock, retries=0)
    with pytest.raises(tw.KeySetUnavailableError, match="no usable keys"):
        verifier(jwks).verify(token(keys[0]))
    with pytest.raises(tw.KeySetUnavailableError):
        jwks.prefetch()


@pytest.mark.parametrize(
    "url",
    ["http://idp.example/jwks.json", "ftp://127.0.0.1/x", "/relative", "https://"],
)
def test_only_https_urls_outside_loopback(url: str) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.RemoteJWKS(url)


def test_plain_http_to_an_emulator_is_an_explicit_choice() -> None:
    tw.RemoteJWKS("http://cognito-local:9229/pool/.well-known/jwks.json", allow_http=True)
    tw.RemoteJWKS("http://[::1]:9229/jwks.json")
    tw.RemoteJWKS("http://localhost:9229/jwks.json")


@pytest.mark.parametrize(
    "kwargs",
    [{"ttl": 0}, {"cooldown": -1}, {"retries": 9}, {"max_bytes": 10}, {"read_timeout": 0}],
)
def test_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.RemoteJWKS("https://idp.example/jwks.json", **kwargs)  # type: ignore[arg-type]


# --- faults: good tokens keep passing within the stale bound, bad ones never pass ---------------


FAULTS = ["500", "404", "302", "garbage", "html", "empty", "oct", "huge", "huge_chunked", "gzip"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_refresh_keeps_the_last_good_keys(
    server: JWKSServer, clock: Clock, keys, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    jwks = remote(server, clock, ttl=600, max_stale=3600)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    server.default = fault
    clock.now += 601  # refresh due
    with caplog.at_level(logging.WARNING, logger="tokenward.jwks"):
        assert v.verify(token(keys[0]))["sub"] == "u1"
    assert "keeping the last good keys" in caplog.text
    assert jwks.last_error is not None
    with pytest.raises(tw.InvalidSignatureError):
        v.verify(forged(keys[0], keys[1]))
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(token(keys[1]))  # unknown kid during an outage: never a pass, and not a 401
    # still within the bound: keeps passing, with at most one fetch per cooldown
    for _ in range(5):
        clock.now += 600
        assert v.verify(token(keys[0]))["sub"] == "u1"
    # beyond the bound: no keys, and no pass
    clock.now += 3600
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(token(keys[0]))
    with caplog.at_level(logging.ERROR, logger="tokenward.jwks"):
        assert jwks.keys is None


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_at_cold_start_is_unavailable(
    server: JWKSServer, clock: Clock, keys, fault
) -> None:
    server.default = fault
    v = verifier(remote(server, clock))
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(token(keys[0]))


def test_server_errors_are_retried_once(server: JWKSServer, clock: Clock, keys) -> None:
    server.script = ["500"]
    v = verifier(remote(server, clock))
    assert v.verify(token(keys[0]))["sub"] == "u1"
    assert server.requests == 2
    server.default = "500"
    clock.now += 601
    v.verify(token(keys[0]))
    assert server.requests == 4  # one fetch = the request and one retry


def test_garbage_is_not_retried(server: JWKSServer, clock: Clock, keys) -> None:
    server.default = "garbage"
    jwks = remote(server, clock)
    with pytest.raises(tw.KeySetUnavailableError, match="not a usable JWKS"):
        jwks.get_keys()
    assert server.requests == 1


def test_oversized_bodies_are_refused(server: JWKSServer, clock: Clock) -> None:
    for fault in ("huge", "huge_chunked"):
        server.default = fault
        jwks = remote(server, clock)
        with pytest.raises(tw.KeySetUnavailableError, match="over 1048576 bytes"):
            jwks.get_keys()


def test_a_hanging_server_times_out(server: JWKSServer, clock: Clock, keys) -> None:
    server.default = "hang"
    server.hang_seconds = 5.0
    jwks = remote(server, clock, read_timeout=0.3, retries=1)
    with pytest.raises(tw.KeySetUnavailableError, match="Timeout"):
        jwks.get_keys()
    assert server.requests == 2


def test_a_slow_drip_hits_the_deadline(server: JWKSServer, clock: Clock, keys) -> None:
    server.default = "slow"
    server.drip_seconds = 0.05  # a byte every 50 ms: each read is quick, the whole is not
    jwks = remote(server, clock, read_timeout=1.0, deadline=0.5, retries=0)
    with pytest.raises(tw.KeySetUnavailableError, match=r"within 0\.5 s"):
        jwks.get_keys()


def test_a_hanging_server_during_a_refresh_does_not_drop_keys(
    server: JWKSServer, clock: Clock, keys
) -> None:
    jwks = remote(server, clock, read_timeout=0.2, retries=0)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    server.default = "hang"
    clock.now += 601
    assert v.verify(token(keys[0]))["sub"] == "u1"
    assert "Timeout" in (jwks.last_error or "")


# --- rotation -------------------------------------------------------------------------------


def test_key_rotation(server: JWKSServer, clock: Clock, keys) -> None:
    jwks = remote(server, clock, cooldown=30)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    # a new key appears: its first token triggers one refresh
    server.keys = [keys[0], keys[1]]
    clock.now += 31
    assert v.verify(token(keys[1]))["sub"] == "u1"
    assert server.requests == 2
    assert v.verify(token(keys[0]))["sub"] == "u1"
    # the old key disappears: after the next refresh its tokens fail (401, not 503)
    server.keys = [keys[1]]
    clock.now += 601
    assert v.verify(token(keys[1]))["sub"] == "u1"
    assert server.requests == 3
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(token(keys[0]))
    assert server.requests == 3  # within the cooldown: no fetch for it
    clock.now += 31
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(token(keys[0]))
    assert server.requests == 4  # one fetch, then refused: the kid is really gone


def test_verifiers_sharing_a_remote_set_follow_its_refreshes(
    server: JWKSServer, clock: Clock, keys
) -> None:
    jwks = remote(server, clock)
    v1, v2 = verifier(jwks), verifier(jwks)
    v1.verify(token(keys[0]))
    server.keys = [keys[1]]
    clock.now += 31
    v1.verify(token(keys[1]))
    assert v2.verify(token(keys[1]))["sub"] == "u1"
    assert server.requests == 2


# --- cooldown and single flight -------------------------------------------------------------


def test_the_cooldown_holds_under_a_burst_of_unknown_kids(
    server: JWKSServer, clock: Clock, keys
) -> None:
    jwks = remote(server, clock, cooldown=30)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    assert server.requests == 1
    forged_kids = [token(keys[2], kid=f"forged-{i}") for i in range(200)]

    def burst() -> None:
        refused = 0
        lock = threading.Lock()

        def worker(chunk: list[str]) -> None:
            nonlocal refused
            for t in chunk:
                with pytest.raises(tw.KeyNotFoundError):
                    v.verify(t)
                with lock:
                    refused += 1

        threads = [threading.Thread(target=worker, args=(forged_kids[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert refused == len(forged_kids)

    burst()  # the prefetch happened "now": the cooldown forbids any fetch
    assert server.requests == 1
    clock.now += 31
    burst()  # 200 unknown kids from 8 threads: one fetch between them
    assert server.requests == 2
    clock.now += 10
    burst()
    assert server.requests == 2
    clock.now += 25
    burst()
    assert server.requests == 3
    assert v.verify(token(keys[0]))["sub"] == "u1"


def test_the_cooldown_holds_for_coroutines(server: JWKSServer, clock: Clock, keys) -> None:
    jwks = remote(server, clock, cooldown=30)
    v = verifier(jwks)

    async def main() -> None:
        await v.verify_async(token(keys[0]))
        clock.now += 31
        results = await asyncio.gather(
            *(v.verify_async(token(keys[2], kid=f"forged-{i}")) for i in range(200)),
            return_exceptions=True,
        )
        assert all(isinstance(r, tw.KeyNotFoundError) for r in results)

    asyncio.run(main())
    assert server.requests == 2


def test_threads_share_one_fetch(server: JWKSServer, clock: Clock, keys) -> None:
    server.default = "hang"
    server.hang_seconds = 0.5
    v = verifier(remote(server, clock))
    results: list[object] = []

    def worker() -> None:
        try:
            results.append(v.verify(token(keys[0]))["sub"])
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == ["u1"] * 16
    assert server.requests == 1


def test_coroutines_and_threads_share_one_fetch(server: JWKSServer, clock: Clock, keys) -> None:
    server.default = "hang"
    server.hang_seconds = 0.5
    v = verifier(remote(server, clock))
    thread_results: list[object] = []

    def worker() -> None:
        thread_results.append(v.verify(token(keys[0]))["sub"])

    async def main() -> list[dict[str, object]]:
        first = asyncio.ensure_future(v.verify_async(token(keys[0])))
        await asyncio.to_thread(server.wait_for_request)  # the fetch is under way
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        rest = [v.verify_async(token(keys[0])) for _ in range(50)]
        out = await asyncio.gather(first, *rest)
        for t in threads:
            await asyncio.to_thread(t.join, 30)
        return out

    claims = asyncio.run(main())
    assert [c["sub"] for c in claims] == ["u1"] * 51
    assert thread_results == ["u1"] * 4
    assert server.requests == 1


def test_flapping_server(server: JWKSServer, clock: Clock, keys) -> None:
    """Up, down, up, down...: good tokens always pass, bad ones never, fetches stay bounded."""
    # per request: 500, 500 (a failed fetch: the request and its retry), 500, ok (a good fetch)
    server.cycle = ["500", "500", "500", "ok"]
    jwks = remote(server, clock, ttl=60, cooldown=30, max_stale=120)
    v = verifier(jwks)
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(token(keys[0]))  # cold start into a failure: no keys, no pass
    clock.now += 30
    outcomes = {"passed": 0, "refused": 0}
    for step in range(60):
        server.keys = [keys[step // 20]]  # the key rotates twice along the way
        clock.now += 7
        kid_key = keys[step // 20]
        assert v.verify(token(kid_key))["sub"] == "u1"
        outcomes["passed"] += 1
        with pytest.raises(tw.InvalidTokenError):
            v.verify(forged(kid_key, keys[(step // 20 + 1) % 3]))
        with pytest.raises((tw.InvalidTokenError, tw.KeySetUnavailableError)):
            v.verify(token(keys[2], kid="unknown"))
        outcomes["refused"] += 2
    assert outcomes == {"passed": 60, "refused": 120}
    # 60 steps x 7 s = 420 s: at most one fetch per 30 s cooldown, at most two requests each
    assert jwks.fetch_attempts <= 2 + 420 // 30
    assert server.requests <= 2 * jwks.fetch_attempts


def test_unknown_kid_during_an_outage_cannot_pass(server: JWKSServer, clock: Clock, keys) -> None:
    jwks = remote(server, clock)
    v = verifier(jwks)
    v.verify(token(keys[0]))
    server.default = "500"
    server.keys = [keys[0], keys[1]]
    clock.now += 31
    with pytest.raises(tw.KeySetUnavailableError, match="cannot be fetched"):
        v.verify(token(keys[1]))
    assert v.verify(token(keys[0]))["sub"] == "u1"
