"""What accounts cost, and what their timing tells about who has one.

    python -m benchmarks.accounts [--quick]

Three parts, each printed as a table (``make bench`` runs them as one section):

1. **Argon2id at the default parameters** (what ``Accounts`` hashes with: ``PASSWORD_HASH_PASSES``
   and ``PASSWORD_HASH_MEMORY_KIB`` unset): median and p90 of a hash and of a verification.
2. **``GET /protected`` while people sign in**: benchmarks/fastapi_app.py under uvicorn (one
   worker, SQLite), the custom provider with accounts; the p50/p99 latency of ``/protected``
   (one client, one keep-alive connection, requests back to back) idle, then while 20 clients
   sign 20 accounts in over and over (each a real password check, on the server's threads).
   The ratio busy ÷ idle says what a burst of sign-ins does to every other request.
3. **Enumeration by time**: with ``EMAIL_VERIFICATION=required``, for ``POST /v1/auth/signup``,
   ``/login`` (wrong password) and ``/forgot-password``, the answer time of an email that has an
   account against one that has none, interleaved (alternating which goes first); every known
   email is used once per route and ``LOGIN_MAX_PER_ADDRESS`` is raised, so no limit is reached.
   The bodies are compared too (they must be equal). For forgot-password the
   work happens after the answer, so the table also gives the time until the same keep-alive
   connection answers a next request (``GET /open``): what a patient client could measure.

Everything stays on 127.0.0.1; medians and ratios are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.e2e import HOST, custom_setup, uvicorn
from tokenward.services import password_hasher
from tokenward.settings import AuthSettings

PASSWORD = "correct horse battery staple"
WRONG = "not the password at all"
SIGN_IN_CLIENTS = 20


def _stats(samples: list[float]) -> dict[str, float]:
    """Milliseconds: n, median, p90, p99 (inclusive quantiles)."""
    ordered = sorted(samples)
    if len(ordered) > 1:
        qs = statistics.quantiles(ordered, n=100, method="inclusive")
        p90, p99 = qs[89], qs[98]
    else:
        p90 = p99 = ordered[0]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1e3, 3),
        "p90_ms": round(p90 * 1e3, 3),
        "p99_ms": round(p99 * 1e3, 3),
    }


# --- 1. the hash ---------------------------------------------------------------------------------


def hash_costs(n: int) -> dict[str, Any]:
    settings = AuthSettings.from_env(prefix="TOKENWARD_BENCH_ISOLATED_")
    hasher = password_hasher(settings)
    hashes, verifies = [], []
    stored = hasher.hash(PASSWORD)
    for _ in range(n):
        start = time.perf_counter()
        hasher.hash(PASSWORD)
        hashes.append(time.perf_counter() - start)
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        verifies.append(time.perf_counter() - start)
    return {
        "passes": settings.password_hash_passes,
        "memory_mib": settings.password_hash_memory_kib // 1024,
        "hash": _stats(hashes),
        "verify": _stats(verifies),
    }


# --- HTTP on loopback ----------------------------------------------------------------------------


class Client:
    """One keep-alive connection to the server (uvicorn closes it after 5 idle seconds: make a
    new one after a pause)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
    ) -> tuple[int, bytes, float]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        return response.status, payload, time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


@contextlib.contextmanager
def _server(tmp: Path, **settings: str) -> Iterator[int]:
    env = dict(custom_setup(tmp).env)
    env.update(
        {
            "TOKENWARD_SIGNUP": "open",
            "TOKENWARD_LOGIN_MAX_PER_ADDRESS": "100000",
            **{f"TOKENWARD_{k.upper()}": v for k, v in settings.items()},
        }
    )
    with uvicorn(env, tmp) as server:
        yield server.port


def _sign_up(client: Client, email: str, expect: int) -> bytes:
    status, body, _ = client.request(
        "POST", "/v1/auth/signup", {"email": email, "password": PASSWORD}
    )
    if status != expect:
        raise RuntimeError(f"sign-up of {email} answered {status}: {body[:200]!r}")
    return body


# --- 2. /protected while 20 sign-ins run ---------------------------------------------------------


def protected_under_signins(tmp: Path, requests: int) -> dict[str, Any]:
    with _server(tmp, email_verification="off") as port:
        client = Client(port)
        emails = [f"load{i}@example.org" for i in range(SIGN_IN_CLIENTS)]
        token = json.loads(_sign_up(client, "reader@example.org", 201))["access_token"]
        for email in emails:
            _sign_up(client, email, 201)

        def protected(n: int) -> list[float]:
            reader = Client(port)  # a fresh connection: the last one may have timed out idle
            samples = []
            try:
                for _ in range(n):
                    status, body, seconds = reader.request("GET", "/protected", token=token)
                    if status != 200:
                        raise RuntimeError(f"/protected answered {status}: {body[:200]!r}")
                    samples.append(seconds)
            finally:
                reader.close()
            return samples

        client.close()
        protected(min(200, requests))  # warm up
        idle = protected(requests)

        stop = threading.Event()
        signed_in = [0] * SIGN_IN_CLIENTS
        failures: list[str] = []

        def sign_in(i: int) -> None:
            own = Client(port)
            try:
                while not stop.is_set():
                    status, body, _ = own.request(
                        "POST", "/v1/auth/login", {"email": emails[i], "password": PASSWORD}
                    )
                    if status != 200:
                        failures.append(f"{status} {body[:120]!r}")
                        return
                    signed_in[i] += 1
            except OSError as exc:
                failures.append(repr(exc))
            finally:
                own.close()

        threads = [threading.Thread(target=sign_in, args=(i,)) for i in range(SIGN_IN_CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            deadline = time.monotonic() + 60
            while sum(signed_in) < SIGN_IN_CLIENTS and time.monotonic() < deadline:
                time.sleep(0.05)  # every client has had a turn: the server is busy hashing
            before, started = sum(signed_in), time.perf_counter()
            busy = protected(requests)
            elapsed = time.perf_counter() - started
            during = sum(signed_in) - before
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        if failures:
            raise RuntimeError(f"a sign-in failed: {failures[0]}")
    idle_stats, busy_stats = _stats(idle), _stats(busy)
    return {
        "idle": idle_stats,
        "busy": busy_stats,
        "sign_ins_per_second": round(during / elapsed, 2),
        "p99_ratio": round(busy_stats["p99_ms"] / idle_stats["p99_ms"], 2),
        "median_ratio": round(busy_stats["median_ms"] / idle_stats["median_ms"], 2),
    }


# --- 3. enumeration by time ----------------------------------------------------------------------


def enumeration(tmp: Path, n: int) -> dict[str, Any]:
    with _server(tmp, email_verification="required") as port:
        client = Client(port)
        known = [f"known{i}@example.org" for i in range(n)]
        for email in known:
            _sign_up(client, email, 202)
        fresh = (f"new{i}@example.org" for i in itertools.count())
        result: dict[str, Any] = {}

        def compare(route: str, body_of: Any, expect: int, follow: bool = False) -> None:
            times: dict[str, list[float]] = {"known": [], "unknown": []}
            after: dict[str, list[float]] = {"known": [], "unknown": []}
            bodies: dict[str, set[bytes]] = {"known": set(), "unknown": set()}
            for i in range(n):
                pair = [("known", known[i]), ("unknown", next(fresh))]
                for kind, email in pair if i % 2 == 0 else reversed(pair):
                    status, body, seconds = client.request("POST", route, body_of(email))
                    if status != expect:
                        raise RuntimeError(f"{route} ({kind}) answered {status}: {body[:200]!r}")
                    times[kind].append(seconds)
                    bodies[kind].add(body)
                    if follow:  # the same connection's next answer waits for the background work
                        next_status, _, next_seconds = client.request("GET", "/open")
                        assert next_status == 200
                        after[kind].append(seconds + next_seconds)
            k, u = _stats(times["known"]), _stats(times["unknown"])
            entry: dict[str, Any] = {
                "known": k,
                "unknown": u,
                "median_ratio": round(u["median_ms"] / k["median_ms"], 3),
                "same_bodies": bodies["known"] == bodies["unknown"] and len(bodies["known"]) == 1,
            }
            if follow:
                ka, ua = _stats(after["known"]), _stats(after["unknown"])
                entry["with_next_request"] = {
                    "known": ka,
                    "unknown": ua,
                    "median_ratio": round(ua["median_ms"] / ka["median_ms"], 3),
                }
            result[route.rsplit("/", 1)[1]] = entry

        compare("/v1/auth/signup", lambda e: {"email": e, "password": WRONG + "!"}, 202)
        compare("/v1/auth/login", lambda e: {"email": e, "password": WRONG}, 401)
        compare("/v1/auth/forgot-password", lambda e: {"email": e}, 200, follow=True)
        client.close()
    return result


# --- the whole run -------------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tokenward-bench-accounts-") as tmp:
        root = Path(tmp)
        (root / "load").mkdir()
        (root / "enum").mkdir()
        return {
            "hash": hash_costs(3 if quick else 20),
            "protected": protected_under_signins(root / "load", 200 if quick else 2000),
            "enumeration": enumeration(root / "enum", 4 if quick else 30),
        }


def print_table(result: dict[str, Any]) -> None:
    h = result["hash"]
    print(
        f"  Argon2id t={h['passes']} m={h['memory_mib']} MiB: hash median "
        f"{h['hash']['median_ms']:.1f} ms (p90 {h['hash']['p90_ms']:.1f}), verify median "
        f"{h['verify']['median_ms']:.1f} ms (p90 {h['verify']['p90_ms']:.1f}), n={h['hash']['n']}"
    )
    p = result["protected"]
    print(f"  GET /protected, n={p['idle']['n']} each   median ms    p99 ms")
    for label, key in (("idle", "idle"), (f"{SIGN_IN_CLIENTS} sign-ins running", "busy")):
        r = p[key]
        print(f"    {label:<26}{r['median_ms']:>10.2f}{r['p99_ms']:>10.2f}")
    print(
        f"    busy ÷ idle: p99 {p['p99_ratio']:.2f}, median {p['median_ratio']:.2f} "
        f"({p['sign_ins_per_second']} sign-ins/s meanwhile)"
    )
    print(
        "  enumeration (EMAIL_VERIFICATION=required)   known ms  unknown ms  unknown÷known  bodies"
    )
    for route, e in result["enumeration"].items():
        same = "equal" if e["same_bodies"] else "DIFFER"
        print(
            f"    POST {route:<36}{e['known']['median_ms']:>9.2f}{e['unknown']['median_ms']:>12.2f}"
            f"{e['median_ratio']:>15.3f}  {same}"
        )
        nxt = e.get("with_next_request")
        if nxt:
            print(
                f"      ... + the connection's next answer  {nxt['known']['median_ms']:>9.2f}"
                f"{nxt['unknown']['median_ms']:>12.2f}{nxt['median_ratio']:>15.3f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
