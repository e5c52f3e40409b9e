"""Run the side-by-side verification benchmark and print µs per verify with ratios.

    python -m benchmarks [--quick] [--algorithms HS256,RS256] [--output PATH]

Every library verifies the same token with the same key (signature, iss, aud) and returns a dict.
The table gives the median of several timed rounds; ratios are peer ÷ tokenward.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks.peers import PEERS, make_case

DEFAULT_ALGORITHMS = ("HS256", "RS256", "ES256", "EdDSA")


def measure(fn: Any, rounds: int, min_time: float) -> float:
    """Median µs per call over `rounds` rounds, each long enough to be timed reliably."""
    fn()  # warm up, and fail early if the peer rejects the token
    number = 1
    while True:
        elapsed = timeit.timeit(fn, number=number)
        if elapsed >= min_time:
            break
        number *= 2
    samples = [timeit.timeit(fn, number=number) / number * 1e6 for _ in range(rounds)]
    return statistics.median(samples)


def run(algorithms: list[str], rounds: int, min_time: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for alg in algorithms:
        case = make_case(alg)
        row: dict[str, Any] = {}
        for name, factory in PEERS.items():
            try:
                fn = factory(case)
            except Exception as exc:  # a peer that cannot load this key is reported
                row[name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            if fn is None:
                row[name] = {"error": "not installed"}
                continue
            try:
                row[name] = {"us_per_verify": measure(fn, rounds, min_time)}
            except Exception as exc:
                row[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[alg] = row
    return results


def print_table(results: dict[str, Any]) -> None:
    peers = list(PEERS)
    print(f"{'alg':<7}" + "".join(f"{p:>22}" for p in peers))
    for alg, row in results.items():
        base = row.get("tokenward", {}).get("us_per_verify")
        cells = []
        for p in peers:
            cell = row.get(p, {})
            if "us_per_verify" in cell:
                us = cell["us_per_verify"]
                ratio = f" ({us / base:.1f}x)" if base and p != "tokenward" else ""
                cells.append(f"{us:10.2f} µs{ratio:>9}")
            else:
                cells.append("n/a".rjust(22))
        print(f"{alg:<7}" + "".join(f"{c:>22}" for c in cells))
    print("ratios in parentheses: peer µs ÷ tokenward µs (higher means tokenward is faster)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    parser.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS))
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = parser.parse_args(argv)
    rounds, min_time = (1, 0.001) if args.quick else (7, 0.2)
    algorithms = [a for a in args.algorithms.split(",") if a]
    started = time.time()
    results = run(algorithms, rounds, min_time)
    print_table(results)
    report = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "quick": args.quick,
        "seconds": round(time.time() - started, 1),
        "verify_us": results,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
