"""What a key source costs a verification: a Verifier over a RemoteJWKS (keys cached, fetched once
from a JWKS server on 127.0.0.1) against one over a static JWKSet of the same keys, and what
``verify_async`` adds over ``verify`` when the keys are at hand."""

from __future__ import annotations

import asyncio
import http.server
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
    """µs per ``await verify_async`` minus µs per ``verify``, both called from a coroutine on a
    running loop: the best of interleaved rounds of each, in CPU time of this thread (time spent
    descheduled on a shared machine does not count)."""

    async def main() -> float:
        best_sync = best_async = float("inf")
        for _ in range(rounds + 1):  # the first round warms up
            start = time.thread_time()
            for _ in range(calls):
                verifier.verify(token)
            middle = time.thread_time()
            for _ in range(calls):
                await verifier.verify_async(token)
            end = time.thread_time()
            best_sync = min(best_sync, (middle - start) / calls)
            best_async = min(best_async, (end - middle) / calls)
        return (best_async - best_sync) * 1e6

    return asyncio.run(main())


def _cpu_us(fn: Callable[[], object], calls: int, rounds: int) -> list[float]:
    """CPU µs per call of each round (this thread's CPU time)."""
    fn()
    out = []
    for _ in range(rounds):
        start = time.thread_time()
        for _ in range(calls):
            fn()
        out.append((time.thread_time() - start) / calls * 1e6)
    return out


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
        # Interleaved rounds in CPU time of this thread, best of each: drift and time spent
        # descheduled on a shared machine hit neither side.
        n = 1000 if min_time >= 0.1 else 20
        static_us: list[float] = []
        remote_us: list[float] = []
        for _ in range(max(rounds, 5) * 3):
            static_us += _cpu_us(lambda: static.verify(token), n, 1)
            remote_us += _cpu_us(lambda: remote.verify(token), n, 1)
        wall_static = measure(lambda: static.verify(token), rounds, min_time)
        wall_remote = measure(lambda: remote.verify(token), rounds, min_time)
        calls = 2000 if min_time >= 0.1 else 50
        hs_key = tw.JWK.generate("HS256")
        hs_token = tw.encode(realistic_claims(), hs_key)
        hs = tw.Verifier(hs_key, algorithms=["HS256"], issuer=ISSUER, audience=AUDIENCE)
        async_static = _async_overhead_us(hs, hs_token, max(rounds, 5), calls * 10)
        async_remote = _async_overhead_us(remote, token, max(rounds, 5), calls)
        if remote_keys.fetch_attempts != fetches:
            raise RuntimeError("the remote key set was fetched again during the run")
    s, r = min(static_us), min(remote_us)
    return {
        "algorithm": "RS256",
        "keys_in_set": len(public),
        "static_us": s,
        "remote_us": r,
        "ratio": r / s,
        "wall_static_us": wall_static,
        "wall_remote_us": wall_remote,
        "wall_ratio": wall_remote / wall_static,
        "verify_async_extra_us_hs256_static": async_static,
        "verify_async_extra_us_rs256_remote": async_remote,
    }
