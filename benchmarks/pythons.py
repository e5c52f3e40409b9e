"""Every interpreter's verify table side by side, from the reports `make bench` writes.

    python -m benchmarks.pythons [REPORT.json ...]

Without arguments it reads benchmarks/results/latest.json (the main run, on the default
interpreter) and latest-3.*.json (scripts/bench-pythons.sh, one per other interpreter). Per
interpreter and algorithm: tokenward's µs per verify, the backend floor and tokenward ÷ floor,
the fastest peer and tokenward ÷ fastest peer, and ryjwt's µs where it ran. Every figure is the
median of the run's interleaved rounds (see benchmarks/__main__.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"

#: The algorithms where tokenward is to be at least as fast as the fastest peer on every
#: interpreter; for the others the ratio to the fastest peer and to the floor is reported.
AT_LEAST_FASTEST = ("HS256", "RS256", "PS256")


def _us(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name, {}).get("us_per_verify")
    return float(value) if value is not None else None


def default_reports() -> list[Path]:
    found = [RESULTS / "latest.json", *sorted(RESULTS.glob("latest-3.*.json"))]
    return [p for p in found if p.exists()]


def load(paths: list[Path]) -> list[dict[str, Any]]:
    # One report per interpreter, the newest file's if two name the same one.
    by_python: dict[str, dict[str, Any]] = {}
    for path in sorted(paths, key=lambda p: p.stat().st_mtime):
        report = json.loads(path.read_text())
        by_python[report["machine"]["python"]] = report
    return [by_python[k] for k in sorted(by_python, key=lambda v: tuple(map(int, v.split("."))))]


def rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for alg, row in report["verify_us"].items():
        r = report["ratios"][alg]
        out.append(
            {
                "python": report["machine"]["python"],
                "algorithm": alg,
                "tokenward_us": _us(row, "tokenward"),
                "floor_us": _us(row, "floor"),
                "tokenward_over_floor": r.get("tokenward_over_floor"),
                "fastest_peer": r.get("fastest_peer"),
                "fastest_peer_us": r.get("fastest_peer_us"),
                "tokenward_over_fastest_peer": r.get("tokenward_over_fastest_peer"),
                "ryjwt_us": _us(row, "ryjwt"),
            }
        )
    return out


def _f(value: float | None, fmt: str, width: int) -> str:
    return (format(value, fmt) if value is not None else "n/a").rjust(width)


def print_table(reports: list[dict[str, Any]]) -> bool:
    """Prints the table; True when every HS256/RS256/PS256 ratio measured is <= 1.00."""
    print(
        "\nVerify to dict (iss, aud, exp checked), every interpreter: µs per verify, median of "
        "interleaved rounds"
    )
    print(
        f"{'python':<8}{'alg':<7}{'tokenward':>10}{'floor':>9}{'tw÷floor':>10}"
        f"{'fastest peer':>14}{'µs':>9}{'tw÷fastest':>12}{'ryjwt':>9}"
    )
    ok = True
    for report in reports:
        machine = report["machine"]
        for r in rows(report):
            ratio = r["tokenward_over_fastest_peer"]
            mark = ""
            if r["algorithm"] in AT_LEAST_FASTEST and ratio is not None:
                mark = "" if ratio <= 1.0 else "  NOT met (<= 1.00x)"
                ok = ok and ratio <= 1.0
            print(
                f"{r['python']:<8}{r['algorithm']:<7}{_f(r['tokenward_us'], '.2f', 10)}"
                f"{_f(r['floor_us'], '.2f', 9)}{_f(r['tokenward_over_floor'], '.3f', 10)}"
                f"{(r['fastest_peer'] or 'n/a'):>14}{_f(r['fastest_peer_us'], '.2f', 9)}"
                f"{_f(ratio, '.3f', 12)}{_f(r['ryjwt_us'], '.2f', 9)}{mark}"
            )
        quick = " (quick: 1 round)" if report.get("quick") else ""
        print(
            f"  Python {machine['python']}: run finished {report.get('finished_at', '?')}, "
            f"load average at start {machine.get('load_average_at_start')}{quick}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a) for a in args] or default_reports()
    if not paths:
        print("no reports: run `make bench` (or python -m benchmarks) first")
        return 1
    print_table(load(paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
