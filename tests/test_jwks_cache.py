"""The JWKS cache's policy in C++ (tokenward._core.JWKSCache), driven by an injected clock.

No network here: the cache never does I/O. Each test plays the caller's part — ask plan(), and
when handed a ticket, report a body or a failure — and checks the decisions.
"""

from __future__ import annotations

import json
import threading

import pytest

import tokenward as tw
from tokenward._core import JWKSCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


@pytest.fixture(scope="module")
def keys() -> list[tw.JWK]:
    return [tw.JWK.generate("ES256") for _ in range(2)]


def body(*keys: tw.JWK) -> bytes:
    return json.dumps({"keys": [k.public().to_dict() for k in keys]}).encode()


def cache(clock: Clock, **kwargs: float) -> JWKSCache:
    options = {"ttl": 600.0, "cooldown": 30.0, "max_stale": 3600.0, **kwargs}
    return JWKSCache(clock=clock, **options)  # type: ignore[arg-type]


def fetch(c: JWKSCache, ask: str = "keys", *, good: bytes | None = None) -> str:
    """Plan; when handed a ticket, report ``good`` (or a failure). Returns the action."""
    action, ticket = c.plan(ask)
    if action == "fetch":
        if good is not None:
            c.complete(ticket, good)
        else:
            c.fail(ticket, "HTTP 500")
    return action


def test_cold_cache_hands_out_one_ticket(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock)
    assert c.keys is None and c.generation == 0 and not c.fresh
    action, ticket = c.plan("keys")
    assert action == "fetch" and ticket > 0
    assert c.in_flight(ticket)
    # everyone else waits for that ticket: nobody starts a second fetch
    assert c.plan("keys") == ("wait", ticket)
    assert c.plan("refresh") == ("wait", ticket)
    assert c.plan("force") == ("wait", ticket)
    outcome, _, count, error = c.complete(ticket, body(keys[0]))
    assert (outcome, count, error) == ("swapped", 1, "")
    assert not c.in_flight(ticket)
    assert c.generation == 1 and c.fresh and c.fetch_attempts == 1
    assert c.keys is not None and c.keys.get(keys[0].kid or "") is not None


def test_fresh_for_ttl_then_one_refresh(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock)
    assert fetch(c, good=body(keys[0])) == "fetch"
    clock.now += 599.9
    assert c.plan("keys") == ("use", 0)
    clock.now += 0.2
    assert not c.fresh
    action, ticket = c.plan("keys")
    assert action == "fetch"
    # while that refresh runs, callers that only need keys keep using the cached ones
    assert c.plan("keys") == ("use", 0)
    assert c.keys is not None
    c.complete(ticket, body(keys[0], keys[1]))
    assert c.generation == 2 and len(c.keys or []) == 2


def test_the_cooldown_bounds_every_kind_of_ask(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock, cooldown=30)
    fetch(c, good=body(keys[0]))
    # a burst of unknown kids: no fetch within the cooldown
    for _ in range(1000):
        assert c.plan("refresh") == ("use", 0)
    clock.now += 29.9
    assert c.plan("refresh") == ("use", 0)
    clock.now += 0.1
    action, ticket = c.plan("refresh")
    assert action == "fetch"
    c.complete(ticket, body(keys[0]))
    assert c.fetch_attempts == 2
    # force (start-up warm-up) ignores the cooldown
    assert fetch(c, "force", good=body(keys[0])) == "fetch"
    assert c.fetch_attempts == 3


def test_threads_planning_at_once_get_one_ticket(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock)
    actions: list[tuple[str, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(50)

    def worker() -> None:
        start.wait()
        for _ in range(20):
            decision = c.plan("refresh")
            with lock:
                actions.append(decision)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    fetches = [a for a in actions if a[0] == "fetch"]
    assert len(fetches) == 1
    ticket = fetches[0][1]
    assert all(a == ("wait", ticket) for a in actions if a[0] != "fetch")
    c.complete(ticket, body(keys[0]))
    assert c.fetch_attempts == 1


def test_failures_keep_the_last_good_keys_up_to_the_stale_bound(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock, ttl=600, cooldown=30, max_stale=3600)
    fetch(c, good=body(keys[0]))
    clock.now += 601
    action, ticket = c.plan("keys")
    assert action == "fetch"
    outcome, left, _, error = c.fail(ticket, "HTTP 500")
    assert outcome == "kept_stale" and error == "HTTP 500"
    assert left == pytest.approx(3599)
    assert c.keys is not None and c.last_error == "HTTP 500"
    # within the bound: at most one fetch per cooldown, the keys keep serving
    for _ in range(10):
        clock.now += 300
        fetch(c)
        assert c.keys is not None
    assert c.fetch_attempts == 12  # the first, the failed refresh, then one per 300 s
    clock.now += 600  # 3601 s past the ttl: beyond max_stale
    assert c.keys is None  # past the bound: unusable, whatever happens next
    action, ticket = c.plan("keys")
    assert action == "fetch"
    assert c.fail(ticket, "HTTP 500")[0] == "unavailable"
    assert c.keys is None and c.usable_for <= 0
    # a good fetch brings them back
    clock.now += 30
    assert fetch(c, good=body(keys[0])) == "fetch"
    assert c.keys is not None and c.last_error is None


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"\x00garbage", "not a usable JWKS"),
        (b'{"keys": []}', "no usable key"),
        (b'{"keys": [{"kty": "XX"}]}', "no usable key"),
        (b"[]", "not a usable JWKS"),
    ],
)
def test_a_bad_document_is_a_failed_fetch(document: bytes, reason: str) -> None:
    c = cache(Clock())
    _, ticket = c.plan("keys")
    outcome, _, _, error = c.complete(ticket, document)
    assert outcome == "unavailable" and reason in error
    assert c.keys is None and reason in (c.last_error or "")


def test_secret_keys_are_refused_in_a_published_set() -> None:
    secret = tw.JWK.from_secret(b"k" * 32, "HS256")
    document = json.dumps({"keys": [secret.to_dict(private=True)]}).encode()
    c = cache(Clock())
    _, ticket = c.plan("keys")
    assert "secret (oct)" in c.complete(ticket, document)[3]
    with pytest.raises(tw.ConfigurationError):
        c.install(tw.JWKSet([secret]))


def test_caps_on_size_and_key_count(keys: list[tw.JWK]) -> None:
    c = JWKSCache(max_keys=1, clock=Clock())
    _, ticket = c.plan("keys")
    assert "at most 1" in c.complete(ticket, body(keys[0], keys[1]))[3]
    c = JWKSCache(max_bytes=64, clock=Clock())
    _, ticket = c.plan("keys")
    assert c.complete(ticket, body(keys[0]))[0] == "unavailable"


def test_install_and_a_late_ticket(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock)
    c.install(tw.JWKSet([keys[0].public()]))
    assert c.generation == 1 and c.fresh
    clock.now += 601
    _, ticket = c.plan("keys")
    c.fail(ticket, "x")
    c.fail(ticket, "again")  # a ticket settles once; a second report changes no flight
    assert not c.in_flight(ticket)
    assert c.keys is not None


@pytest.mark.parametrize(
    "kwargs",
    [{"ttl": 0}, {"ttl": float("nan")}, {"cooldown": -1}, {"cooldown": float("inf")},
     {"max_stale": -1}, {"max_keys": 0}],
)  # fmt: skip
def test_settings_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(tw.ConfigurationError):
        JWKSCache(**kwargs)  # type: ignore[arg-type]


def test_the_clock_is_read_for_each_decision(keys: list[tw.JWK]) -> None:
    clock = Clock()
    c = cache(clock)
    fetch(c, good=body(keys[0]))
    before = clock.calls
    c.plan("keys")
    assert clock.calls == before + 1
    with pytest.raises(TypeError):
        JWKSCache(clock=42)  # type: ignore[arg-type]


def test_the_native_clock_is_monotonic_time() -> None:
    import time

    c = JWKSCache()
    assert abs(c.now() - time.monotonic()) < 5
