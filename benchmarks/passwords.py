"""What a password costs: Argon2id hash and verification times, and the anti-enumeration check.

    python -m benchmarks.passwords [--quick]

For libsodium's INTERACTIVE parameters (tokenward's default: 2 passes over 64 MiB) and MODERATE
(3 passes over 256 MiB) it prints the median milliseconds of N hashes and N verifications
(tokenward.passwords.PasswordHasher, the C++ core through libsodium). Then, at the default
parameters, the distributions of a verification with a wrong password against a real hash and
of the dummy verification run for an unknown e-mail, interleaved so both see the same load: a
sign-in route that runs one or the other should not tell the two apart by time.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from tokenward.passwords import (
    MEMLIMIT_INTERACTIVE,
    MEMLIMIT_MODERATE,
    OPSLIMIT_INTERACTIVE,
    OPSLIMIT_MODERATE,
    PasswordHasher,
)

PASSWORD = "correct horse battery staple"
SETTINGS = {
    "interactive (default)": (OPSLIMIT_INTERACTIVE, MEMLIMIT_INTERACTIVE),
    "moderate": (OPSLIMIT_MODERATE, MEMLIMIT_MODERATE),
}


def _ms(samples: list[float]) -> dict[str, float]:
    qs = (
        statistics.quantiles(samples, n=10, method="inclusive") if len(samples) > 1 else samples * 9
    )
    return {
        "n": len(samples),
        "min_ms": round(min(samples) * 1e3, 2),
        "p10_ms": round(qs[0] * 1e3, 2),
        "median_ms": round(statistics.median(samples) * 1e3, 2),
        "p90_ms": round(qs[-1] * 1e3, 2),
        "max_ms": round(max(samples) * 1e3, 2),
    }


def _time(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def hash_costs(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (ops, mem) in SETTINGS.items():
        hasher = PasswordHasher(opslimit=ops, memlimit=mem)
        count = n if mem <= MEMLIMIT_INTERACTIVE else max(3, n // 2)  # MODERATE: ~8x the cost
        hashes = [_time(hasher.hash, PASSWORD) for _ in range(count)]
        stored = hasher.hash(PASSWORD)
        verifies = [_time(hasher.verify, stored, PASSWORD) for _ in range(count)]
        out[name] = {
            "opslimit": ops,
            "memlimit_mib": mem >> 20,
            "hash": _ms(hashes),
            "verify": _ms(verifies),
        }
    return out


def two_threads(seconds: float) -> dict[str, Any]:
    """Hashes per second at the default parameters with one thread and with two: the GIL is
    released while hashing, so two threads use two cores where there are two free."""
    hasher = PasswordHasher()
    out: dict[str, Any] = {}
    for threads in (1, 2):
        counts = [0] * threads
        stop = time.perf_counter() + seconds

        def work(i: int, counts: list[int] = counts, stop: float = stop) -> None:
            while time.perf_counter() < stop:
                hasher.hash(PASSWORD)
                counts[i] += 1

        started = time.perf_counter()
        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        out[f"{threads}_thread"] = round(sum(counts) / (time.perf_counter() - started), 2)
    return {"hashes_per_second": out}


def enumeration(n: int) -> dict[str, Any]:
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    wrong: list[float] = []
    dummy: list[float] = []
    for i in range(n):  # interleaved, alternating which goes first
        pair = [
            (wrong, lambda: hasher.verify(stored, "wrong password")),
            (dummy, lambda: hasher.verify_dummy("wrong password")),
        ]
        for samples, fn in pair if i % 2 == 0 else reversed(pair):
            samples.append(_time(fn))
    w, d = _ms(wrong), _ms(dummy)
    return {
        "wrong_password": w,
        "unknown_email_dummy": d,
        "median_difference_pct": round(100 * (d["median_ms"] - w["median_ms"]) / w["median_ms"], 2),
    }


def run(quick: bool = False) -> dict[str, Any]:
    n = 3 if quick else 15
    return {
        "costs": hash_costs(n),
        "threads": two_threads(0.5 if quick else 3.0),
        "enumeration": enumeration(4 if quick else 40),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"  {'parameters':<24}{'hash median':>14}{'verify median':>16}   (p10 .. p90)")
    for name, r in result["costs"].items():
        h, v = r["hash"], r["verify"]
        label = f"{name} t={r['opslimit']} m={r['memlimit_mib']}MiB"
        print(
            f"  {label:<24}{h['median_ms']:>11.1f} ms{v['median_ms']:>13.1f} ms"
            f"   ({h['p10_ms']:.1f} .. {h['p90_ms']:.1f} / {v['p10_ms']:.1f} .. {v['p90_ms']:.1f})"
        )
    t = result["threads"]["hashes_per_second"]
    print(f"  default hashes/s: 1 thread {t['1_thread']}, 2 threads {t['2_thread']}")
    e = result["enumeration"]
    for key, label in (("wrong_password", "wrong password"), ("unknown_email_dummy", "dummy")):
        r = e[key]
        print(
            f"  {label:<16} n={r['n']:<3} min {r['min_ms']:.1f}  p10 {r['p10_ms']:.1f}  median "
            f"{r['median_ms']:.1f}  p90 {r['p90_ms']:.1f}  max {r['max_ms']:.1f} ms"
        )
    print(f"  dummy - wrong, medians: {e['median_difference_pct']:+.2f} %")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    args = parser.parse_args(argv)
    print_table(run(quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
