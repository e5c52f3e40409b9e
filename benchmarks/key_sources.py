"""What a key source costs a verification: a Verifier over a RemoteJWKS (keys cached, fetched once
from a JWKS server on 127.0.0.1) against one over a static JWKSet of the same keys, and what
``verify_async`` adds over ``verify`` when the keys are at hand."""

from __future__ import annotations

import asyncio
import http.server
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import tokenward as tw
from benchmarks.peers import AUDIENCE, ISSUER, realistic_claims

Measure = Callable[[Callable[[], object], int, float], float]


@contextmanager
def _jwks_server(body: bytes) -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def _async_overhead_us(verifier: tw.Verifier, token: str, rounds: int, calls: int) -> float:
    """Median over rounds of (µs per ``await verify_async``) minus (µs per ``verify``), both called
    from a coroutine on a running loop."""

    async def sync_calls() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            verifier.verify(token)
        return time.perf_counter() - start

    async def async_calls() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await verifier.verify_async(token)
        return time.perf_counter() - start

    async def main() -> list[float]:
        await async_calls()  # warm up
        out = []
        for _ in range(rounds):
            s = await sync_calls()
            a = await async_calls()
            out.append((a - s) / calls * 1e6)
        return out

    return statistics.median(asyncio.run(main()))


def remote_vs_static(measure: Measure, rounds: int, min_time: float) -> dict[str, Any]:
    """µs per RS256 verify over a RemoteJWKS (cached) and over a static JWKSet; their ratio (goal
    <= 1.05x); and the µs ``verify_async`` adds over ``verify`` (goal <= 1 µs)."""
    key = tw.JWK.generate("RS256")
    others = [tw.JWK.generate("RS256").public() for _ in range(2)]  # a realistic set of three
    public = tw.JWKSet([key.public(), *others])
    token = tw.encode(realistic_claims(), key)
    options: dict[str, Any] = {"algorithms": ["RS256"], "issuer": ISSUER, "audience": AUDIENCE}
    static = tw.Verifier(public, **options)
    with _jwks_server(public.to_json().encode()) as url:
        remote_keys = tw.RemoteJWKS(url)
        remote_keys.prewarm()
        remote = tw.Verifier(remote_keys, **options)
        remote.verify(token)
        fetches = remote_keys.fetch_attempts
        # Interleaved, so that drift on a shared machine hits both alike.
        static_us, remote_us = [], []
        for _ in range(max(rounds, 3)):
            static_us.append(measure(lambda: static.verify(token), 1, min_time))
            remote_us.append(measure(lambda: remote.verify(token), 1, min_time))
        calls = 2000 if min_time >= 0.1 else 50
        hs_key = tw.JWK.generate("HS256")
        hs_token = tw.encode(realistic_claims(), hs_key)
        hs = tw.Verifier(hs_key, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
        async_static = _async_overhead_us(hs, hs_token, max(rounds, 3), calls * 5)
        async_remote = _async_overhead_us(remote, token, max(rounds, 3), calls)
        if remote_keys.fetch_attempts != fetches:
            raise RuntimeError("the remote key set was fetched again during the run")
    s, r = statistics.median(static_us), statistics.median(remote_us)
    return {
        "algorithm": "RS256",
        "keys_in_set": len(public),
        "static_us": s,
        "remote_us": r,
        "ratio": r / s,
        "verify_async_extra_us_hs256_static": async_static,
        "verify_async_extra_us_rs256_remote": async_remote,
    }
