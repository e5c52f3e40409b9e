"""Measurements beside the verify table: JWKS parsing, the verified-token cache (its rules and its
memory), and RS256 throughput with one and two threads."""

from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import tokenward as tw
from benchmarks.peers import (
    AUDIENCE,
    ISSUER,
    Case,
    Unavailable,
    cached_verifier,
    make_case,
    realistic_claims,
)

Measure = Callable[[Callable[[], object], int, float], float]


def jwks_parse(n_keys: int, measure: Measure, rounds: int, min_time: float) -> dict[str, Any]:
    """µs to parse a JWKS of `n_keys` public RSA-2048 keys (``tw.JWKSet.from_json`` on text)."""
    keys = tw.JWKSet([tw.JWK.generate("RS256").public() for _ in range(n_keys)])
    text = keys.to_json()
    parsed = tw.JWKSet.from_json(text)
    if len(parsed) != n_keys:
        raise RuntimeError(f"JWKS parse kept {len(parsed)} of {n_keys} keys: {parsed.skipped}")
    us = measure(lambda: tw.JWKSet.from_json(text), rounds, min_time)
    return {
        "keys": n_keys,
        "key_type": "RSA-2048",
        "bytes": len(text),
        "us_per_parse": us,
        "us_per_key": us / n_keys,
    }


def _distinct_tokens(case: Case, n: int) -> list[str]:
    base = realistic_claims()
    return [tw.encode({**base, "jti": f"bench-{i:08d}"}, case.key) for i in range(n)]


def cache_rules(case: Case) -> dict[str, Any]:
    """Whether the cache is bounded (size never past capacity after more distinct tokens than it
    holds) and never serves a token past its exp (a cached token verified at ``now=exp``)."""
    capacity = 64
    verifier = cached_verifier(case, cache_size=capacity)
    for token in _distinct_tokens(case, capacity * 3):
        verifier.verify(token)
    info = dict(verifier.cache_info())  # type: ignore[attr-defined]
    bounded = info["size"] <= info["capacity"] == capacity

    exp = int(time.time()) + 60
    token = tw.encode({**realistic_claims(), "exp": exp}, case.key)
    verifier.verify(token)
    verifier.verify(token)  # now certainly cached
    try:
        verifier.verify(token, now=exp)
        past_exp = "accepted at now=exp"
    except tw.ExpiredTokenError:
        past_exp = "ExpiredTokenError"
    return {
        "capacity": capacity,
        "after_distinct_tokens": capacity * 3,
        "cache_info": info,
        "bounded": bounded,
        "at_exp": past_exp,
        "never_past_exp": past_exp == "ExpiredTokenError",
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        resident_pages = int(f.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def cache_memory(entries: int) -> dict[str, Any]:
    """Process RSS growth from filling a cache with `entries` distinct valid tokens (tracemalloc
    does not see the C++ core's allocations, so this reads /proc/self/statm)."""
    if not os.path.exists("/proc/self/statm"):
        raise Unavailable("n/a (no /proc/self/statm on this system)")
    case = make_case("HS256")
    verifier = cached_verifier(case, cache_size=entries)
    tokens = _distinct_tokens(case, entries)
    verifier.verify(tokens[0])  # one-time allocations (first verify, first cache node)
    gc.collect()
    before = _rss_bytes()
    for token in tokens[1:]:
        verifier.verify(token)
    gc.collect()
    after = _rss_bytes()
    info = dict(verifier.cache_info())  # type: ignore[attr-defined]
    delta = after - before
    size = int(info["size"]) or entries
    return {
        "entries": entries,
        "algorithm": "HS256",
        "token_bytes": len(tokens[0]),
        "cache_info": info,
        "rss_delta_bytes": delta,
        "rss_delta_mib": delta / 2**20,
        "bytes_per_entry": delta / size,
        "method": "RSS delta from /proc/self/statm",
    }


def _run_threads(verify: Callable[[], object], threads: int, per_thread: int) -> float:
    """Wall seconds for `threads` threads each calling `verify` `per_thread` times."""
    start = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def work() -> None:
        start.wait()
        try:
            for _ in range(per_thread):
                verify()
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    start.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise errors[0]
    return elapsed


def thread_scaling(case: Case, single_us: float, seconds: float, rounds: int) -> dict[str, Any]:
    """RS256 verifies/s with one and two threads sharing one verifier (cache off), each thread
    doing the same fixed work; the median of `rounds` runs of each."""
    verifier = tw.Verifier(
        case.key.public(), algorithms=[case.algorithm], issuer=ISSUER, audience=AUDIENCE
    )
    token = case.token

    def verify() -> object:
        return verifier.verify(token)

    per_thread = max(10, int(seconds * 1e6 / single_us))
    verify()
    result: dict[str, Any] = {"algorithm": case.algorithm, "per_thread": per_thread}
    rates: dict[int, float] = {}
    for threads in (1, 2):
        samples = [
            threads * per_thread / _run_threads(verify, threads, per_thread) for _ in range(rounds)
        ]
        rates[threads] = statistics.median(samples)
        result[f"threads_{threads}"] = {"verifies_per_s": rates[threads]}
    result["ratio"] = rates[2] / rates[1]
    result["cpus"] = os.cpu_count()
    return result
