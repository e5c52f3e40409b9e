"""FastAPI end to end: ``benchmarks/fastapi_app.py`` under uvicorn on 127.0.0.1, driven by wrk
(or, without wrk, a bounded httpx client), requests per second of the open and protected routes.

Everything stays on the loopback interface, every run is bounded in time, and the uvicorn
subprocess is always terminated.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tokenward as tw
from benchmarks.peers import make_case

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ROUTES = ("/open", "/dependency-only", "/protected", "/protected-nocache")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str, token: str | None) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited ({proc.returncode}): {log.read_text()[-400:]}")
        try:
            if _get(port, "/open", None) == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn was not ready within {timeout:.0f} s: {log.read_text()[-400:]}")


_RPS = re.compile(r"Requests/sec:\s*([0-9.]+)")
_NON2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_TOTAL = re.compile(r"(\d+) requests in")


def _wrk(port: int, path: str, token: str, seconds: float, connections: int) -> dict[str, Any]:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-H",
        f"Authorization: Bearer {token}",
        f"http://{HOST}:{port}{path}",
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    rps = _RPS.search(out)
    if rps is None:
        raise RuntimeError(f"unreadable wrk output: {out[-300:]!r}")
    non2xx = _NON2XX.search(out)
    total = _TOTAL.search(out)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)) if total else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def _python_client(
    port: int, path: str, token: str, seconds: float, connections: int, max_requests: int
) -> dict[str, Any]:
    import httpx

    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://{HOST}:{port}{path}"
        done = 0
        bad = 0
        deadline = time.monotonic() + seconds
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=5) as client:

            async def worker() -> None:
                nonlocal done, bad
                while time.monotonic() < deadline and done < max_requests:
                    resp = await client.get(url, headers=headers)
                    done += 1
                    bad += resp.status_code != 200

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - t0
        return {"rps": done / elapsed, "requests": done, "non_2xx": bad}

    return asyncio.run(main())


def fastapi_e2e(
    seconds: float, rounds: int, connections: int = 8, tool: str | None = None
) -> dict[str, Any]:
    """Requests/s of each route (median of `rounds` runs of `seconds` each; every round runs each
    route once, the order reversed every other round).
    The load generator is wrk when it is on PATH, else a bounded httpx client."""
    case = make_case("RS256")
    token = case.token
    tool = tool or ("wrk" if shutil.which("wrk") else "httpx")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="tokenward-e2e-") as tmp:
        jwk_file = Path(tmp) / "key.json"
        jwk_file.write_text(json.dumps(case.public_jwk))
        log = Path(tmp) / "uvicorn.log"
        env = {
            **os.environ,
            "TOKENWARD_BENCH_JWK": str(jwk_file),
            "TOKENWARD_BENCH_ALG": case.algorithm,
        }
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.fastapi_app:app",
            "--host",
            HOST,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        with log.open("wb") as log_file:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
            try:
                _wait_ready(proc, port, log, timeout=30)
                checks = {
                    "protected_with_token": _get(port, "/protected", token),
                    "protected_without_token": _get(port, "/protected", None),
                    "protected_nocache_with_token": _get(port, "/protected-nocache", token),
                }
                got = (checks["protected_with_token"], checks["protected_without_token"])
                if got != (200, 401):
                    raise RuntimeError(f"the app does not authenticate as expected: {checks}")

                def drive(path: str, duration: float) -> dict[str, Any]:
                    if tool == "wrk":
                        return _wrk(port, path, token, duration, connections)
                    return _python_client(port, path, token, duration, connections, 20_000)

                for path in ROUTES:  # warm up every route
                    drive(path, min(1.0, seconds))
                runs: dict[str, list[dict[str, Any]]] = {path: [] for path in ROUTES}
                for r in range(rounds):
                    order = ROUTES if r % 2 == 0 else tuple(reversed(ROUTES))
                    for path in order:
                        runs[path].append(drive(path, seconds))
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
    routes: dict[str, Any] = {}
    for path, samples in runs.items():
        if any(s["non_2xx"] for s in samples):
            raise RuntimeError(f"{path} answered non-2xx during the run: {samples}")
        routes[path] = {"rps": statistics.median(s["rps"] for s in samples), "runs": samples}
    open_rps = routes["/open"]["rps"]

    def paired_ratio(path: str) -> float:
        # Each round runs every route back to back, so a ratio within a round is taken under the
        # same background load; the median of those is steadier than a ratio of medians.
        pairs = zip(runs[path], runs["/open"], strict=True)
        return statistics.median(a["rps"] / b["rps"] for a, b in pairs)

    cache_on = _cache_available()
    return {
        "tool": tool,
        "algorithm": case.algorithm,
        "connections": connections,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "server": "uvicorn, 1 worker, 127.0.0.1",
        "verifier_cache": cache_on,
        "sanity": checks,
        "routes": routes,
        "open_rps": open_rps,
        "protected_rps": routes["/protected"]["rps"],
        "protected_nocache_rps": routes["/protected-nocache"]["rps"],
        "dependency_only_rps": routes["/dependency-only"]["rps"],
        "ratio": paired_ratio("/protected"),
        "ratio_nocache": paired_ratio("/protected-nocache"),
        "ratio_dependency_only": paired_ratio("/dependency-only"),
        "ratio_method": "median over rounds of (route rps ÷ /open rps in the same round)",
        "note": (
            "the Python client is likely the bottleneck; the ratio understates the cost"
            if tool == "httpx"
            else "wrk and uvicorn share the machine's CPUs"
        ),
    }


def _cache_available() -> bool:
    key = tw.JWK.generate("HS256")
    try:
        tw.Verifier(key, algorithms=["HS256"], cache_size=1)  # type: ignore[call-arg]
    except TypeError:
        return False
    return True
