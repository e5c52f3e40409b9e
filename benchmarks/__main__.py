"""Run the side-by-side verification benchmark and print µs per verify with ratios.

    python -m benchmarks [--quick] [--algorithms HS256,RS256] [--output PATH] [--no-e2e]
                         [--verify-only]

Every library verifies the same token with the same key (signature, iss, aud) and returns a dict,
one after another in this process. Beside them: the raw-OpenSSL floor (benchmarks/native/floor.cpp,
built with the project's CMake), tokenward with its verified-token cache, JWKS parsing, the cache's
rules and memory, RS256 throughput with one and two threads, and a FastAPI end-to-end run. The
tables give the median of several timed rounds; the report goes to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import access, accounts, api_keys, e2e, extras, key_sources, passwords
from benchmarks.floor import FloorUnavailable, ensure_floor, run_floor
from benchmarks.peers import (
    NOT_INSTALLED_REASONS,
    PEER_NOTES,
    PEERS,
    TOKENWARD_VARIANTS,
    Case,
    Unavailable,
    make_case,
    old_pyjwt_version,
)

DEFAULT_ALGORITHMS = ("HS256", "RS256", "PS256", "ES256", "EdDSA")
ASYMMETRIC_TARGET = 1.10
HS256_TARGET = 10.0
CACHE_HIT_TARGET_US = 1.0
THREADS_TARGET = 1.8
E2E_TARGET = 0.95
JWKS_TARGET_US = 50.0  # a JWKS of 10 RSA-2048 keys
DEPENDENCY_TARGET_US = 3.0  # /protected over /dependency-only, in process, cache on

DISTRIBUTIONS = {
    "tokenward": "tokenward",
    "pyjwt": "PyJWT",
    "joserfc": "joserfc",
    "jwcrypto": "jwcrypto",
    "authlib": "Authlib",
    "python-jose": "python-jose",
    "oxyjwt": "oxyjwt",
    "ryjwt": "ryjwt",
    "webtoken": "webtoken",
    "clasp-jwt": "clasp-jwt",
    "pyjwt-rs": "pyjwt-rs",
    "rsjwt": "rsjwt",
}


def measure(fn: Callable[[], object], rounds: int, min_time: float) -> float:
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


def _error(exc: BaseException) -> str:
    if isinstance(exc, Unavailable | FloorUnavailable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _calibrate(fn: Callable[[], object], min_time: float) -> int:
    """Calls per timed sample so that one sample lasts at least `min_time`."""
    fn()  # warm up, and fail early if the peer rejects the token
    number = 1
    while timeit.timeit(fn, number=number) < min_time:
        number *= 2
    return number


def run(
    algorithms: list[str], rounds: int, min_time: float, floor_binary: Path | None, floor_why: str
) -> tuple[dict[str, Any], dict[str, Case]]:
    """µs per verify of the floor, tokenward (cache off and on) and each peer, per algorithm.

    The rounds are interleaved: each round takes one sample of every column in turn, so that a
    change in the machine's background load hits all columns alike and the ratios stay fair."""
    results: dict[str, Any] = {}
    cases: dict[str, Case] = {}
    for alg in algorithms:
        case = make_case(alg)
        cases[alg] = case
        row: dict[str, Any] = {}
        timed: dict[str, tuple[Callable[[], object], int]] = {}
        for name, factory in {**PEERS, **TOKENWARD_VARIANTS}.items():
            try:
                fn = factory(case)
                if fn is None:
                    row[name] = {"error": NOT_INSTALLED_REASONS.get(name, "not installed")}
                    continue
                timed[name] = (fn, _calibrate(fn, min_time))
            except Exception as exc:  # a peer that cannot load this key or check this token
                row[name] = {"error": _error(exc)}
        samples: dict[str, list[float]] = {name: [] for name in timed}
        floor: dict[str, Any] = {"samples_us": []}
        if floor_binary is None:
            floor = {"error": f"floor unavailable: {floor_why}"}
        for _ in range(rounds):
            if "error" not in floor and floor_binary is not None:
                try:
                    one = run_floor(floor_binary, case, 1, min_time)
                    floor["samples_us"].append(one["us_per_verify"])
                    floor["openssl"] = one.get("openssl")
                    if "openssl_us_per_verify" in one:  # EdDSA: libsodium, OpenSSL beside it
                        floor["backend"] = one.get("backend")
                        openssl_samples = floor.setdefault("openssl_samples_us", [])
                        openssl_samples.append(one["openssl_us_per_verify"])
                except FloorUnavailable as exc:
                    floor = {"error": f"floor unavailable: {exc}"}
            for name, (fn, number) in list(timed.items()):
                try:
                    samples[name].append(timeit.timeit(fn, number=number) / number * 1e6)
                except Exception as exc:
                    row[name] = {"error": _error(exc)}
                    del timed[name]
        if "error" not in floor:
            floor["us_per_verify"] = statistics.median(floor["samples_us"])
            if floor.get("openssl_samples_us"):
                floor["openssl_us_per_verify"] = statistics.median(floor["openssl_samples_us"])
        for name in timed:
            row[name] = {"us_per_verify": statistics.median(samples[name])}
        results[alg] = {
            "floor": floor,
            **{name: row[name] for name in [*PEERS, *TOKENWARD_VARIANTS]},
        }
    return results, cases


def _us(row: dict[str, Any], name: str) -> float | None:
    value = row.get(name, {}).get("us_per_verify")
    return float(value) if value is not None else None


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for alg, row in results.items():
        base = _us(row, "tokenward")
        floor = _us(row, "floor")
        r: dict[str, float | None] = {
            "tokenward_over_floor": base / floor if base and floor else None
        }
        cached = _us(row, "tokenward_cache")
        r["tokenward_over_cache_hit"] = base / cached if base and cached else None
        timed = {}
        for name in PEERS:
            if name == "tokenward":
                continue
            us = _us(row, name)
            r[f"{name}_over_tokenward"] = us / base if us and base else None
            if us:
                timed[name] = us
        fastest = min(timed, key=timed.__getitem__) if timed else None
        out[alg] = {
            **r,
            "fastest_peer": fastest,
            "fastest_peer_us": timed[fastest] if fastest else None,
            "tokenward_over_fastest_peer": base / timed[fastest] if fastest and base else None,
        }
    return out


def _fmt_us(us: float | None, width: int = 10) -> str:
    return (f"{us:.2f}" if us is not None else "n/a").rjust(width)


def print_tables(results: dict[str, Any], rounds: int) -> None:
    print(f"\nVerify to dict, iss and aud checked: µs per verify (median of {rounds} rounds)")
    print(f"{'alg':<7}{'floor':>10}{'tokenward':>11}{'tw÷floor':>10}{'tw cache':>10}")
    for alg, row in results.items():
        base, floor, cached = _us(row, "tokenward"), _us(row, "floor"), _us(row, "tokenward_cache")
        ratio = f"{base / floor:.2f}x" if base and floor else "n/a"
        print(f"{alg:<7}{_fmt_us(floor)}{_fmt_us(base, 11)}{ratio:>10}{_fmt_us(cached)}")
        evp = row["floor"].get("openssl_us_per_verify")
        if evp is not None:
            print(
                f"  {alg} floor: {row['floor'].get('backend')} (tokenward's backend); "
                f"OpenSSL's EVP_DigestVerify takes {evp:.2f} µs"
            )
    peers = [p for p in PEERS if p != "tokenward"]
    algs = list(results)
    print("\nPeers: µs per verify (peer ÷ tokenward; higher means tokenward is faster)")
    print(f"{'peer':<13}" + "".join(f"{alg:>19}" for alg in algs))
    for p in peers:
        cells = []
        for alg in algs:
            us, base = _us(results[alg], p), _us(results[alg], "tokenward")
            if us is None:
                cells.append("n/a".rjust(19))
                continue
            ratio = f"({us / base:.1f}x)" if base else ""
            cells.append(f"{us:9.2f} {ratio:>8}".rjust(19))
        mark = " *" if p in PEER_NOTES else ""
        print(f"{p + mark:<13}" + "".join(cells))
    for p, note in PEER_NOTES.items():
        print(f"  * {p}: {note}")
    print("\nFastest peer per algorithm (tokenward ÷ fastest; below 1 means tokenward is faster)")
    for alg, r in ratios(results).items():
        fastest, us = r["fastest_peer"], r["fastest_peer_us"]
        ratio = r["tokenward_over_fastest_peer"]
        if fastest is None:
            print(f"{alg:<7} n/a")
            continue
        shown = f"{ratio:.2f}x" if ratio is not None else "n/a"
        print(f"{alg:<7}{fastest:>13}{us:10.2f} µs   tokenward ÷ fastest {shown}")
    notes: dict[str, list[str]] = {}
    for alg, row in results.items():
        for name, cell in row.items():
            if "error" in cell:
                notes.setdefault(f"{name}: {cell['error']}", []).append(alg)
    if notes:
        print("n/a:")
        for note, algs in notes.items():
            print(f"  [{','.join(algs)}] {note}")


def _machine(floor_results: dict[str, Any]) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    floors = [row.get("floor", {}) for row in floor_results.values()]
    openssl = next((f["openssl"] for f in floors if "openssl" in f), None)
    versions = {}
    for name, dist in DISTRIBUTIONS.items():
        try:
            versions[name] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["pyjwt-2.10"] = old_pyjwt_version()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": cpu,
        "cpus": os.cpu_count(),
        "openssl": openssl,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": versions,
    }


def _section(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    print(f"\n{name}:", flush=True)
    try:
        result = fn()
    except Unavailable as exc:
        result = {"error": str(exc)}
    except Exception as exc:
        result = {"error": _error(exc)}
    if "error" in result:
        print(f"  {result['error']}")
    return result


def _adder(out: list[dict[str, Any]]) -> Callable[..., None]:
    def add(name: str, goal: str, value: float | None, met: bool | None, detail: str = "") -> None:
        out.append({"target": name, "goal": goal, "value": value, "met": met, "detail": detail})

    return add


def verify_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets the verify table alone decides (all that a --verify-only run has)."""
    rat = report["ratios"]
    out: list[dict[str, Any]] = []
    add = _adder(out)

    if "HS256" in rat:
        v = rat["HS256"].get("pyjwt_over_tokenward")
        met = None if v is None else v >= HS256_TARGET
        add("HS256 PyJWT ÷ tokenward", f">= {HS256_TARGET:.0f}x", v, met)
    for alg in ("RS256", "ES256", "EdDSA"):
        if alg in rat:
            v = rat[alg]["tokenward_over_floor"]
            goal = f"<= {ASYMMETRIC_TARGET:.2f}x"
            add(f"{alg} tokenward ÷ floor", goal, v, None if v is None else v <= ASYMMETRIC_TARGET)
    for alg, row in rat.items():
        v = row.get("tokenward_over_fastest_peer")
        add(
            f"{alg} tokenward ÷ fastest peer",
            "<= 1.00x",
            v,
            None if v is None else v <= 1.0,
            str(row.get("fastest_peer") or ""),
        )
    return out


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    verify = report["verify_us"]
    out = verify_targets(report)
    add = _adder(out)
    jwks = report.get("jwks_parse", {})
    v = jwks.get("us_per_parse")
    add(
        "JWKS of 10 RSA keys parsed",
        f"<= {JWKS_TARGET_US:.0f} µs",
        v,
        None if v is None else v <= JWKS_TARGET_US,
    )
    memory = report.get("cache_memory", {})
    v = memory.get("bytes_per_entry")
    add("cache memory per entry", "<= 1024 bytes", v, None if v is None else v <= 1024)
    ks = report.get("key_sources", {})
    extra = [ks.get(k) for k in ks if k.startswith("verify_async_extra_us")]
    v = max((x for x in extra if x is not None), default=None)
    add("verify_async over verify", "<= 1.0 µs", v, None if v is None else v <= 1.0)
    for provider, r in report.get("fastapi_in_process", {}).get("providers", {}).items():
        v = r.get("protected_minus_dependency_only_us")
        add(
            f"FastAPI protected - dependency-only ({provider}, in process)",
            f"<= {DEPENDENCY_TARGET_US:.0f} µs",
            v,
            None if v is None else v <= DEPENDENCY_TARGET_US,
        )
    hits = [u for row in verify.values() if (u := _us(row, "tokenward_cache")) is not None]
    hit = max(hits) if hits else None
    rules = report["cache"]
    add(
        "cache hit (slowest alg)",
        f"<= {CACHE_HIT_TARGET_US} µs",
        hit,
        None if hit is None else hit <= CACHE_HIT_TARGET_US,
    )
    add("cache bounded", "size <= capacity", None, rules.get("bounded"), rules.get("error", ""))
    add(
        "cache never past exp",
        "ExpiredTokenError at now=exp",
        None,
        rules.get("never_past_exp"),
        rules.get("at_exp", rules.get("error", "")),
    )
    th = report["threads"]
    v = th.get("ratio")
    met = None if v is None else v >= THREADS_TARGET
    add("RS256 2 threads ÷ 1", f">= {THREADS_TARGET}x", v, met, th.get("error", ""))
    fa = report["fastapi"]
    for provider in e2e.PROVIDERS:
        result = fa.get("providers", {}).get(provider, {})
        v = result.get("ratio")
        add(
            f"FastAPI protected ÷ open ({provider})",
            f">= {E2E_TARGET}x",
            v,
            None if v is None else v >= E2E_TARGET,
            fa.get("error", fa.get("skipped", "")),
        )
    return out


def fastapi_peers() -> dict[str, Any]:
    """The FastAPI peers section: each peer's dependency and tokenward's under the same uvicorn."""
    fp = _section(
        "FastAPI peers (same uvicorn set-up; server CPU µs per request over /open)",
        lambda: e2e.peers_e2e(seconds=3, rounds=3),
    )
    for name, r in fp.get("peers", {}).items():
        extra, base = r.get("protected_extra_server_cpu_us"), r.get("open_server_cpu_us")
        if extra is None:
            print(f"  {name:<44} {r.get('error', 'n/a')}")
        else:
            print(f"  {name:<44} +{extra:7.1f} µs (/open {base:.1f} µs)")
    return fp


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="few iterations (smoke run)")
    parser.add_argument("--algorithms", default=",".join(DEFAULT_ALGORITHMS))
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "latest.json"))
    parser.add_argument("--no-e2e", action="store_true", help="skip the FastAPI end-to-end run")
    parser.add_argument(
        "--verify-only",
        action="store_true",
        help="only the verify table (floor, tokenward, peers) and its targets; what `make bench` "
        "runs on the other interpreters (scripts/bench-pythons.sh)",
    )
    parser.add_argument(
        "--fastapi-peers",
        action="store_true",
        help="with --verify-only: also the FastAPI peers section (uvicorn; about 5 minutes)",
    )
    args = parser.parse_args(argv)
    quick: bool = args.quick
    rounds, min_time = (1, 0.001) if quick else (7, 0.2)
    algorithms = [a for a in args.algorithms.split(",") if a]
    started = time.time()

    floor_binary: Path | None = None
    floor_why = ""
    try:
        floor_binary = ensure_floor(build=not quick)
    except FloorUnavailable as exc:
        floor_why = str(exc)
        print(f"floor unavailable: {floor_why}")

    results, cases = run(algorithms, rounds, min_time, floor_binary, floor_why)
    print_tables(results, rounds)
    report: dict[str, Any] = {
        "machine": _machine(results),
        "quick": quick,
        "rounds": rounds,
        "verify_us": results,
        "ratios": ratios(results),
        "floor": {
            "binary": str(floor_binary) if floor_binary else None,
            "unavailable": floor_why or None,
            "method": "fresh EVP_MD_CTX + EVP_DigestVerifyInit + EVP_DigestVerify per verify "
            "(HS*: fresh EVP_MAC_CTX on a prefetched HMAC; EdDSA: libsodium's "
            "crypto_sign_verify_detached, OpenSSL's figure beside it); key via "
            "tokenward::jwk::from_json_text",
        },
    }

    if args.verify_only:
        report["verify_only"] = True
        if args.fastapi_peers and not quick:
            report["fastapi_peers"] = fastapi_peers()
        report["targets"] = verify_targets(report)
        return _finish(report, args.output, started)

    n_keys = 3 if quick else 10
    jwks = _section(
        f"JWKS of {n_keys} RSA keys, tw.JWKSet.from_json",
        lambda: extras.jwks_parse(n_keys, measure, rounds, min_time),
    )
    if "us_per_parse" in jwks:
        print(f"  {jwks['us_per_parse']:.1f} µs per parse ({jwks['us_per_key']:.1f} µs per key)")
    report["jwks_parse"] = jwks

    hs_case = cases.get("HS256") or make_case("HS256")
    rules = _section("Verified-token cache rules", lambda: extras.cache_rules(hs_case))
    if "bounded" in rules:
        print(
            f"  bounded: {rules['bounded']} ({rules['cache_info']}); "
            f"token at now=exp: {rules['at_exp']}"
        )
    hits = {alg: _us(row, "tokenward_cache") for alg, row in results.items()}
    rules["hit_us"] = hits
    report["cache"] = rules

    entries = 1_000 if quick else 10_000
    memory = _section(f"Memory of a {entries:,}-entry cache", lambda: extras.cache_memory(entries))
    if "rss_delta_bytes" in memory:
        print(
            f"  RSS +{memory['rss_delta_mib']:.2f} MiB, {memory['bytes_per_entry']:.0f} bytes per "
            f"entry ({memory['token_bytes']}-byte tokens)"
        )
    report["cache_memory"] = memory

    def threads() -> dict[str, Any]:
        case = cases.get("RS256") or make_case("RS256")
        single = _us(results.get("RS256", {}), "tokenward") or 50.0
        return extras.thread_scaling(case, single, 0.02 if quick else 1.0, 1 if quick else 3)

    th = _section("RS256 throughput, 1 and 2 threads (one shared verifier, cache off)", threads)
    if "ratio" in th:
        print(
            f"  1 thread {th['threads_1']['verifies_per_s']:,.0f}/s, "
            f"2 threads {th['threads_2']['verifies_per_s']:,.0f}/s, ratio {th['ratio']:.2f}x "
            f"({th['cpus']} CPUs)"
        )
    report["threads"] = th

    ks = _section(
        "Key sources: RS256 verify over a RemoteJWKS (cached) vs a static JWKSet",
        lambda: key_sources.remote_vs_static(measure, rounds, min_time),
    )
    if "ratio" in ks:
        print(
            f"  CPU µs per verify: static {ks['static_us']:.2f}, remote {ks['remote_us']:.2f}, "
            f"ratio {ks['ratio']:.3f}x (goal <= 1.05x; wall-clock ratio {ks['wall_ratio']:.3f}x); "
            "verify_async adds "
            f"{ks['verify_async_extra_us_hs256_static']:.2f} µs (HS256, static) and "
            f"{ks['verify_async_extra_us_rs256_remote']:.2f} µs (RS256, remote) over verify"
        )
    report["key_sources"] = ks

    if quick or args.no_e2e:
        why = "skipped in quick mode" if quick else "skipped (--no-e2e)"
        fa: dict[str, Any] = {"skipped": why}
        print(f"\nFastAPI end to end: {why}")
    else:
        fa = _section(
            "FastAPI end to end (uvicorn on 127.0.0.1, require_current_user, custom and cognito)",
            lambda: e2e.fastapi_e2e(seconds=5, rounds=3),
        )
        if "providers" in fa:
            print(
                f"  {fa['tool']}, median req/s of {fa['rounds']} x {fa['seconds_per_run']} s; "
                "ratios: median of same-round ratios to /open; server CPU µs per request"
            )
            for provider, r in fa["providers"].items():
                cpu = {path: route.get("server_cpu_us") for path, route in r["routes"].items()}
                extra = r.get("protected_extra_server_cpu_us")
                print(
                    f"  {provider} ({r['algorithm']}): /open {r['open_rps']:,.0f}; "
                    f"/dependency-only {r['dependency_only_rps']:,.0f} "
                    f"({r['ratio_dependency_only']:.3f}); /protected {r['protected_rps']:,.0f} "
                    f"({r['ratio']:.3f})"
                    + (f"; /protected costs +{extra:.1f} µs of server CPU" if extra else "")
                    + (f" (/open {cpu['/open']:.1f} µs)" if cpu.get("/open") else "")
                )
    report["fastapi"] = fa

    if quick:
        inproc: dict[str, Any] = {"skipped": "skipped in quick mode"}
        print(f"\nFastAPI in process: {inproc['skipped']}")
    else:
        inproc = _section(
            "FastAPI in process (ASGI, no server; /protected and /dependency-only at the same "
            "route position; median of same-round differences)",
            lambda: {"providers": e2e.in_process()},
        )
        for provider, r in inproc.get("providers", {}).items():
            print(
                f"  {provider}: /protected over /dependency-only "
                f"{r['protected_minus_dependency_only_us']:+.2f} µs; over /open "
                f"{r['protected_minus_open_us']:+.2f} µs (/open {r['us_per_request']['/open']:.1f}"
                f" µs); one failed route match {r['route_match_us']:.2f} µs"
            )
    report["fastapi_in_process"] = inproc

    if quick or args.no_e2e:
        keys: dict[str, Any] = {"skipped": "skipped in quick mode" if quick else "skipped"}
        print(f"\nAPI keys vs access tokens: {keys['skipped']}")
    else:
        keys = _section(
            "API keys vs access tokens (GET /protected in process; python -m benchmarks.api_keys)",
            lambda: {"configurations": api_keys.run()},
        )
        if "configurations" in keys:
            api_keys.print_table(keys["configurations"])
    report["api_keys"] = keys
    if quick:
        entitlements: dict[str, Any] = {"skipped": "skipped in quick mode"}
        print(f"\nEntitlement checks: {entitlements['skipped']}")
    else:
        entitlements = _section(
            "Entitlement checks, 5 levels, 10,000 resources (AccessContext.can, can_all of 100; "
            "python -m benchmarks.access)",
            lambda: {"stores": access.run()},
        )
        if "stores" in entitlements:
            access.print_table(entitlements["stores"])
    report["access"] = entitlements
    if quick or args.no_e2e:
        lookup: dict[str, Any] = {"skipped": "skipped in quick mode" if quick else "skipped"}
        print(f"\nRefused API keys, unknown prefix vs wrong secret: {lookup['skipped']}")
    else:
        lookup = _section(
            "Refused API keys, unknown prefix vs wrong secret (median µs per request, 2,000 "
            "samples each; python -m benchmarks.api_keys --lookup)",
            lambda: {"configurations": api_keys.lookup_timing()},
        )
        if "configurations" in lookup:
            api_keys.print_lookup_table(lookup["configurations"])
    report["api_key_lookup"] = lookup
    if not (quick or args.no_e2e):
        report["fastapi_peers"] = fastapi_peers()

    if quick:
        pw: dict[str, Any] = {"skipped": "skipped in quick mode"}
        print(f"\nPassword hashing: {pw['skipped']}")
    else:
        pw = _section(
            "Password hashing, Argon2id through libsodium (python -m benchmarks.passwords)",
            passwords.run,
        )
        if "costs" in pw:
            passwords.print_table(pw)
    report["passwords"] = pw

    if quick or args.no_e2e:
        acc: dict[str, Any] = {"skipped": "skipped in quick mode" if quick else "skipped"}
        print(f"\nAccounts: {acc['skipped']}")
    else:
        acc = _section(
            "Accounts: Argon2id at the defaults, /protected during 20 sign-ins, enumeration "
            "by time (python -m benchmarks.accounts)",
            accounts.run,
        )
        if "hash" in acc:
            accounts.print_table(acc)
    report["accounts"] = acc

    report["targets"] = targets(report)
    return _finish(report, args.output, started)


def _finish(report: dict[str, Any], output: str, started: float) -> int:
    """Prints the targets, writes the report to `output`."""
    print(f"\nTargets (ratios from this run, Python {report['machine']['python']}):")
    for t in report["targets"]:
        mark = {True: "met", False: "NOT met", None: "n/a"}[t["met"]]
        value = f"{t['value']:.3f}" if isinstance(t["value"], float) else ""
        print(f"  {t['target']:<36} {t['goal']:<30} {value:>8}  {mark}  {t['detail']}".rstrip())

    report["seconds"] = round(time.time() - started, 1)
    report["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
