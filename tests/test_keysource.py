"""The key-source protocol between Verifier and where keys come from (tokenward.keysource), and
what RemoteJWKS adds for it: the native fast path, request headers, prewarm."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

import tokenward as tw
from jwks_server import JWKSServer
from tokenward._core import JWKSet

ISS = "https://issuer.example"


def token(key: tw.JWK, **headers: str) -> str:
    return tw.encode({"iss": ISS, "sub": "u1", "exp": int(time.time()) + 600}, key, headers)


class RotatingSource:
    """A custom key source: a set that can gain keys, and a count of what the verifier asked."""

    def __init__(self, *keys: tw.JWK) -> None:
        self.published = [k.public() for k in keys]
        self.served = JWKSet(self.published)
        self.asked = {"get": 0, "kid": 0}
        self.down = False
        self._lock = threading.Lock()

    def publish(self, key: tw.JWK) -> None:
        self.published.append(key.public())

    def get_keys(self) -> JWKSet:
        with self._lock:
            self.asked["get"] += 1
        if self.down:
            raise tw.KeySetUnavailableError("the source is down")
        return self.served

    async def get_keys_async(self) -> JWKSet:
        await asyncio.sleep(0)
        return self.get_keys()

    def keys_for_kid(self, kid: str | None) -> JWKSet | None:
        with self._lock:
            self.asked["kid"] += 1
        fresh = JWKSet(self.published)
        if kid is None or fresh.get(kid) is None:
            return None
        self.served = fresh
        return fresh

    async def keys_for_kid_async(self, kid: str | None) -> JWKSet | None:
        await asyncio.sleep(0)
        return self.keys_for_kid(kid)


@pytest.fixture(scope="module")
def keys() -> list[tw.JWK]:
    return [tw.JWK.generate("ES256") for _ in range(3)]


# --- the protocol ---------------------------------------------------------------------------


def test_the_built_in_sources_satisfy_the_protocol() -> None:
    assert isinstance(tw.RemoteJWKS("https://idp.example/jwks.json"), tw.KeySource)
    assert isinstance(tw.KeyRing.generate("ES256"), tw.KeySource)
    assert isinstance(tw.StaticKeys(tw.JWK.generate("ES256")), tw.KeySource)
    assert isinstance(RotatingSource(), tw.KeySource)
    assert not isinstance(tw.JWKSet([]), tw.KeySource)


def test_a_custom_source_in_python(keys: list[tw.JWK]) -> None:
    source = RotatingSource(keys[0])
    v = tw.Verifier(source, algorithms=["ES256"], issuer=ISS)
    assert v.source is source
    assert v.verify(token(keys[0]))["sub"] == "u1"
    assert source.asked == {"get": 1, "kid": 0}
    # a key the source starts publishing: one keys_for_kid, then it verifies
    source.publish(keys[1])
    assert v.verify(token(keys[1]))["sub"] == "u1"
    assert source.asked["kid"] == 1
    # a kid nobody publishes: keys_for_kid says None, the token is refused (401)
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(token(keys[2]))
    # a forged signature under a published kid: refused, no extra question
    asked = dict(source.asked)
    with pytest.raises(tw.InvalidSignatureError):
        v.verify(token(keys[2], kid=keys[0].kid or ""))
    assert source.asked["kid"] == asked["kid"]
    # the source down: 503, not 401
    source.down = True
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(token(keys[0]))


def test_a_custom_source_async(keys: list[tw.JWK]) -> None:
    source = RotatingSource(keys[0])
    v = tw.Verifier(source, algorithms=["ES256"], issuer=ISS)

    async def main() -> None:
        assert (await v.verify_async(token(keys[0])))["sub"] == "u1"
        source.publish(keys[1])
        assert (await v.verify_async(token(keys[1])))["sub"] == "u1"
        with pytest.raises(tw.KeyNotFoundError):
            await v.verify_async(token(keys[2]))

    asyncio.run(main())
    assert source.asked["kid"] == 2


def test_static_keys_behind_the_protocol(keys: list[tw.JWK]) -> None:
    v = tw.Verifier(tw.StaticKeys(keys[0].public()), algorithms=["ES256"])
    assert v.verify(token(keys[0]))["sub"] == "u1"
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(token(keys[1]))
    with pytest.raises(TypeError):
        tw.StaticKeys("not keys")  # type: ignore[arg-type]


def test_keys_must_be_keys_or_a_source() -> None:
    with pytest.raises(TypeError, match="key source"):
        tw.Verifier(object(), algorithms=["ES256"])  # type: ignore[arg-type]


def test_a_sourced_verifier_takes_its_keys_from_the_source(keys: list[tw.JWK]) -> None:
    v = tw.Verifier(RotatingSource(keys[0]), algorithms=["ES256"])
    with pytest.raises(tw.ConfigurationError, match="key source"):
        v.replace_keys(tw.JWKSet([keys[1].public()]))


def test_the_verified_token_cache_is_emptied_when_the_source_changes_keys(
    keys: list[tw.JWK],
) -> None:
    ring = tw.KeyRing.generate("ES256", max_token_lifetime=600)
    v = ring.verifier(issuer=ISS, cache_size=16)
    t = ring.sign({"iss": ISS, "sub": "u1", "exp": int(time.time()) + 600})
    v.verify(t)
    v.verify(t)
    assert (v.cache_info() or {})["hits"] == 1
    ring.rotate()
    assert v.verify(t)["sub"] == "u1"  # the previous key still verifies, checked anew
    assert (v.cache_info() or {})["hits"] == 1


# --- RemoteJWKS: the native fast path --------------------------------------------------------


@pytest.fixture
def server(keys: list[tw.JWK]) -> Iterator[JWKSServer]:
    srv = JWKSServer().start()
    srv.keys = [keys[0]]
    try:
        yield srv
    finally:
        srv.stop()


class Counting:
    """Counts the RemoteJWKS methods a verifier calls (Python calls on the slow path)."""

    def __init__(self, jwks: tw.RemoteJWKS) -> None:
        self.calls = 0
        for name in ("get_keys", "keys_for_kid", "get_keys_async", "keys_for_kid_async"):
            method = getattr(jwks, name)
            setattr(jwks, name, self._wrap(method))

    def _wrap(self, method):  # type: ignore[no-untyped-def]
        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            return method(*args, **kwargs)

        return counted


def test_cached_keys_verify_without_calling_python(server: JWKSServer, keys: list[tw.JWK]) -> None:
    jwks = tw.RemoteJWKS(server.url)
    jwks.prewarm()
    counter = Counting(jwks)
    v = tw.Verifier(jwks, algorithms=["ES256"], issuer=ISS)
    for _ in range(50):
        assert v.verify(token(keys[0]))["sub"] == "u1"
    assert asyncio.run(v.verify_async(token(keys[0])))["sub"] == "u1"
    assert counter.calls == 0
    # an unknown kid comes back up to Python (and to the cooldown)
    with pytest.raises(tw.KeyNotFoundError):
        v.verify(token(keys[1]))
    assert counter.calls == 2  # get_keys, then keys_for_kid
    assert server.requests == 1  # the cooldown: no fetch


def test_a_due_refresh_comes_back_to_python(server: JWKSServer, keys: list[tw.JWK]) -> None:
    now = [0.0]
    jwks = tw.RemoteJWKS(server.url, ttl=60, clock=lambda: now[0])
    v = tw.Verifier(jwks, algorithms=["ES256"], issuer=ISS)
    v.verify(token(keys[0]))
    counter = Counting(jwks)
    v.verify(token(keys[0]))
    assert counter.calls == 0
    now[0] += 61
    v.verify(token(keys[0]))
    assert counter.calls == 1 and server.requests == 2


# --- RemoteJWKS: headers, timeouts, prewarm --------------------------------------------------


def test_a_user_agent_is_sent(server: JWKSServer) -> None:
    jwks = tw.RemoteJWKS(server.url)
    jwks.get_keys()
    assert server.last_headers["User-Agent"].startswith("tokenward/")
    jwks = tw.RemoteJWKS(server.url, user_agent="vega-api/2.1", headers={"X-Tenant": "t1"})
    asyncio.run(jwks.get_keys_async())
    assert server.last_headers["User-Agent"] == "vega-api/2.1"
    assert server.last_headers["X-Tenant"] == "t1"
    assert jwks.headers["Accept"] == "application/json"


def test_headers_replace_ours_by_name(server: JWKSServer) -> None:
    jwks = tw.RemoteJWKS(server.url, headers={"user-agent": "custom/1", "accept": "*/*"})
    jwks.get_keys()
    sent = {name.lower(): value for name, value in server.last_headers.items()}
    assert sent["user-agent"] == "custom/1"
    assert sent["accept"] == "*/*"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"headers": {"X-Bad": "a\r\nInjected: yes"}},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"Accept-Encoding": "gzip"}},
        {"headers": {"X-Num": 1}},
        {"user_agent": ""},
        {"user_agent": "a\nb"},
    ],
)
def test_bad_headers_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.RemoteJWKS("https://idp.example/jwks.json", **kwargs)  # type: ignore[arg-type]


def test_timeouts_are_the_settings() -> None:
    jwks = tw.RemoteJWKS(
        "https://idp.example/jwks.json", connect_timeout=1.5, read_timeout=2.5, deadline=4
    )
    assert jwks.settings["connect_timeout"] == 1.5
    assert jwks.settings["read_timeout"] == 2.5
    assert jwks.settings["deadline"] == 4


def test_prewarm_fetches_only_when_the_keys_are_not_fresh(server: JWKSServer) -> None:
    now = [0.0]
    jwks = tw.RemoteJWKS(server.url, ttl=60, clock=lambda: now[0])
    assert len(jwks.prewarm()) == 1
    assert len(jwks.prewarm()) == 1
    assert server.requests == 1
    now[0] += 61
    asyncio.run(jwks.prewarm_async())
    assert server.requests == 2
    asyncio.run(jwks.prewarm_async())
    assert server.requests == 2


def test_prewarm_fails_loudly(server: JWKSServer) -> None:
    server.default = "500"
    jwks = tw.RemoteJWKS(server.url, retries=0)
    with pytest.raises(tw.KeySetUnavailableError, match="HTTP 500"):
        jwks.prewarm()
    with pytest.raises(tw.KeySetUnavailableError):
        asyncio.run(jwks.prewarm_async())


def test_two_hundred_threads_at_a_cold_start_share_one_fetch(
    server: JWKSServer, keys: list[tw.JWK]
) -> None:
    server.default = "hang"
    server.hang_seconds = 0.5
    v = tw.Verifier(tw.RemoteJWKS(server.url), algorithms=["ES256"], issuer=ISS)
    t = token(keys[0])
    results: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(200)

    def worker() -> None:
        start.wait()
        try:
            outcome: object = v.verify(t)["sub"]
        except Exception as exc:  # reported, then asserted below
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker) for _ in range(200)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert results == ["u1"] * 200
    assert server.requests == 1
