"""Instructions per HS256 decode (signature, ``exp``, ``iss`` and ``aud`` checked, claims to a
dict), counted by callgrind, for tokenward and, where it is installed (Python 3.12+), ryjwt.

    PYTHONPATH=$PWD/python:$PWD python -m benchmarks.callgrind_decode --decodes 2000
    PYTHONPATH=$PWD/python:$PWD python -m benchmarks.callgrind_decode --timeit   # µs, no valgrind

Both verify the same token (the Cognito-shaped claims of :mod:`benchmarks.peers`) with the same
secret, through the callable :mod:`benchmarks.peers` builds for them, called as a bound method
from one Python loop. Each library's decodes run as one section after a warm-up; a call to
``getppid()`` (which nothing else here makes) starts each section and callgrind dumps its
counters there (``--dump-before=getppid``), so each dump holds one section. A first section
calls ``id`` on the token the same number of times: the loop and a C call of one argument, which
is subtracted from the others. Instruction counts do not depend on the machine's load, so runs
made at different times compare; valgrind hides SHA-NI from OpenSSL, so the HMAC share is larger
than on the CPU itself (the ``--timeit`` figures are what the CPU does).

Prints JSON: instructions per decode of each library (baseline subtracted), and the ratio of
tokenward to each peer (above 1: tokenward runs more instructions).
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

from benchmarks._callgrind import mark, section_counts

ALGORITHM = "HS256"


def _decoders() -> tuple[str, dict[str, Callable[[str], Any]]]:
    """The token and one single-argument decode per library present (tokenward first)."""
    import tokenward as tw
    from benchmarks import peers

    case = peers.make_case(ALGORITHM)
    verifier = tw.Verifier(
        peers.verify_key(case), algorithms=[ALGORITHM], issuer=peers.ISSUER, audience=peers.AUDIENCE
    )
    out: dict[str, Callable[[str], Any]] = {"tokenward": verifier.verify}
    if peers._installed("ryjwt"):
        import ryjwt  # type: ignore[import-not-found]

        key = ryjwt.SecretKey(
            peers._secret(case),
            algorithms=[ALGORITHM],
            audience=peers.AUDIENCE,
            issuer=peers.ISSUER,
        )
        out["ryjwt"] = key.decode
    for name, decode in out.items():
        claims = decode(case.token)
        if claims.get("aud") != peers.AUDIENCE or claims.get("sub") is None:
            raise RuntimeError(f"{name} decoded {claims!r}")
    return case.token, out


def _inside(decodes: int, warm_up: int) -> None:
    token, decoders = _decoders()
    sections: list[Callable[[str], Any]] = [id, *decoders.values()]
    for decode in sections:
        for _ in range(warm_up):
            decode(token)
    for decode in sections:
        mark()
        for _ in range(decodes):
            decode(token)
    mark()


def measure(decodes: int, warm_up: int) -> dict[str, Any]:
    """Run this module under callgrind and read its dumps."""
    _, decoders = _decoders()
    names = ["baseline", *decoders]
    args = ["--decodes", str(decodes), "--warm-up", str(warm_up)]
    counts = section_counts("benchmarks.callgrind_decode", args, len(names))
    per = {name: n / decodes for name, n in zip(names, counts, strict=True)}
    base = per.pop("baseline")
    net = {name: round(v - base) for name, v in per.items()}
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "algorithm": ALGORITHM,
        "decodes": decodes,
        "baseline_per_call": round(base),
        "instructions_per_decode": net,
    }
    for name in net:
        if name != "tokenward" and net[name] > 0:
            result[f"tokenward_over_{name}"] = round(net["tokenward"] / net[name], 3)
    return result


def time_decodes(number: int, repeat: int) -> dict[str, Any]:
    """Best-of-`repeat` microseconds per decode, with timeit (no valgrind)."""
    token, decoders = _decoders()
    times: dict[str, float] = {}
    for name, decode in {"baseline": id, **decoders}.items():
        timer = timeit.Timer("decode(token)", globals={"decode": decode, "token": token})
        times[name] = min(timer.repeat(repeat=repeat, number=number)) / number * 1e6
    base = times.pop("baseline")
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "algorithm": ALGORITHM,
        "microseconds_per_decode": {k: round(v, 3) for k, v in times.items()},
        "baseline_microseconds": round(base, 3),
    }
    for name in times:
        if name != "tokenward":
            # Above 1: tokenward is faster.
            result[f"speed_vs_{name}"] = round(times[name] / times["tokenward"], 3)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decodes", type=int, default=2000)
    parser.add_argument("--warm-up", type=int, default=200)
    parser.add_argument("--timeit", action="store_true", help="wall-clock µs instead of callgrind")
    parser.add_argument("--number", type=int, default=20000, help="decodes per timeit repeat")
    parser.add_argument("--repeat", type=int, default=15, help="timeit repeats (best is kept)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inside:
        _inside(args.decodes, args.warm_up)
        return 0
    if args.timeit:
        result = time_decodes(args.number, args.repeat)
    else:
        result = measure(args.decodes, args.warm_up)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
