"""FastAPI end to end: ``benchmarks/fastapi_app.py`` under uvicorn on 127.0.0.1, driven by wrk
(or, without wrk, a bounded httpx client): requests per second of ``/open``, ``/dependency-only``
and ``/protected`` (``Depends(require_current_user)`` behind a real ``tokenward.fastapi.Auth``),
for each provider in a uvicorn process of its own:

``custom``
    HS256 access token from ``POST /v1/auth/login`` (the debug user), sessions in a SQLite file in
    a temporary directory, a fixed ``TOKENWARD_AUTH_SECRET``;
``cognito``
    an RS256 access token shaped like Cognito's (``token_use=access``, ``client_id``,
    ``cognito:groups``, ``scope``, the pool's ``iss``), whose key the benchmark serves as a JWKS
    from a small HTTP server on 127.0.0.1 (``TOKENWARD_COGNITO_JWKS_URL``).

Everything stays on the loopback interface, every run is bounded in time, and each uvicorn
subprocess is always terminated. :func:`in_process` times the same routes without a server or
a network: the app called straight through ASGI, for profiling the dependency's cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import http.server
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tokenward as tw
from benchmarks.peers import AUDIENCE, ISSUER, realistic_claims

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ROUTES = ("/open", "/dependency-only", "/protected")
PROVIDERS = ("custom", "cognito")
APP = "benchmarks.fastapi_app:create_app"

#: The user pool of the Cognito run: ISSUER is https://cognito-idp.us-west-1.amazonaws.com/<pool>.
COGNITO_REGION = "us-west-1"
COGNITO_POOL_ID = ISSUER.rsplit("/", 1)[1]
DEBUG_EMAIL = "debug@example.com"
DEBUG_PASSWORD = "bench-debug-password"  # a throwaway password for a loopback run
JWKS_PATH = "/.well-known/jwks.json"


# --- the providers ------------------------------------------------------------------------------


@dataclass
class Setup:
    """One provider's settings (as ``TOKENWARD_*`` variables) and how to get its token."""

    provider: str
    algorithm: str
    env: dict[str, str]
    token: str | None = None  # known in advance (cognito) or from the login route (custom)
    notes: dict[str, Any] = field(default_factory=dict)


def cognito_claims() -> dict[str, Any]:
    """A Cognito access token's claims: no ``aud`` (access tokens carry ``client_id``)."""
    claims = realistic_claims()
    del claims["aud"]
    return claims


class JWKSHost:
    """Serves ``{"keys": [...]}`` at :data:`JWKS_PATH` on 127.0.0.1 (a thread of this process)."""

    def __init__(self, keys: list[tw.JWK]) -> None:
        body = json.dumps({"keys": [k.public().to_dict() for k in keys]}).encode()
        host = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                found = self.path == JWKS_PATH
                host.requests += found
                payload = body if found else b"not found"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        port = self._httpd.server_address[1]
        return f"http://{HOST}:{port}{JWKS_PATH}"

    def __enter__(self) -> JWKSHost:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def _base_env() -> dict[str, str]:
    """This process's environment without any TOKENWARD_* variable, which would leak in."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("TOKENWARD_")}


def custom_setup(tmp: Path) -> Setup:
    env = {
        "TOKENWARD_AUTH_PROVIDER": "custom",
        "TOKENWARD_AUTH_SECRET": secrets.token_urlsafe(32),
        "TOKENWARD_STORE_URL": f"sqlite:///{tmp / 'sessions.sqlite3'}",
        "TOKENWARD_ENVIRONMENT": "development",
        "TOKENWARD_DEBUG_EMAIL": DEBUG_EMAIL,
        "TOKENWARD_DEBUG_PASSWORD": DEBUG_PASSWORD,
        "TOKENWARD_DEBUG_SCOPES": "reports:read",
        "TOKENWARD_ACCESS_TOKEN_LIFETIME": "3600",  # outlives any run
    }
    return Setup("custom", "HS256", env)


@contextlib.contextmanager
def cognito_setup() -> Iterator[Setup]:
    """An RS256 key served as a JWKS on loopback, and an access token it signed."""
    key = tw.JWK.generate("RS256")
    token = tw.encode(cognito_claims(), key)
    with JWKSHost([key]) as jwks:
        env = {
            "TOKENWARD_AUTH_PROVIDER": "cognito",
            "TOKENWARD_ENVIRONMENT": "production",
            "TOKENWARD_COGNITO_REGION": COGNITO_REGION,
            "TOKENWARD_COGNITO_USER_POOL_ID": COGNITO_POOL_ID,
            "TOKENWARD_COGNITO_APP_CLIENT_ID": AUDIENCE,
            "TOKENWARD_COGNITO_JWKS_URL": jwks.url,
        }
        setup = Setup("cognito", "RS256", env, token=token)
        yield setup
        setup.notes["jwks_requests"] = jwks.requests


@contextlib.contextmanager
def provider_setup(provider: str, tmp: Path) -> Iterator[Setup]:
    if provider == "custom":
        yield custom_setup(tmp)
    elif provider == "cognito":
        with cognito_setup() as setup:
            yield setup
    else:
        raise ValueError(f"unknown provider {provider!r}; choose from {PROVIDERS}")


# --- HTTP on loopback ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _request(
    port: int, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _get(port: int, path: str, token: str | None) -> int:
    return _request(port, "GET", path, token)[0]


def _login(port: int) -> str:
    status, body = _request(
        port, "POST", "/v1/auth/login", body={"email": DEBUG_EMAIL, "password": DEBUG_PASSWORD}
    )
    if status != 200:
        raise RuntimeError(f"the debug login answered {status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


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


@dataclass(frozen=True)
class Server:
    port: int
    pid: int

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time the server process has used (None where /proc is missing)."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def uvicorn(env: Mapping[str, str], tmp: Path, app: str = APP) -> Iterator[Server]:
    """The benchmark app (or `app`, a factory) under uvicorn (one worker) with ``env``."""
    port = _free_port()
    log = tmp / "uvicorn.log"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        app,
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**_base_env(), **env}, stdout=log_file, stderr=log_file
        )
        try:
            _wait_ready(proc, port, log, timeout=30)
            yield Server(port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


# --- load generators ----------------------------------------------------------------------------

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


# --- the run ------------------------------------------------------------------------------------


def _paired_ratio(runs: dict[str, list[dict[str, Any]]], path: str) -> float:
    # Each round runs every route back to back, so a ratio within a round is taken under the same
    # background load; the median of those is steadier than a ratio of medians.
    pairs = zip(runs[path], runs["/open"], strict=True)
    return statistics.median(a["rps"] / b["rps"] for a, b in pairs)


def _run_provider(
    provider: str,
    seconds: float,
    rounds: int,
    drive: Callable[..., dict[str, Any]],
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    load_before = [round(x, 2) for x in os.getloadavg()]
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-e2e-") as tmp_name,
        provider_setup(provider, Path(tmp_name)) as setup,
    ):
        tmp = Path(tmp_name)
        with uvicorn({**setup.env, **(extra_env or {})}, tmp) as server:
            port = server.port
            token = setup.token if setup.token is not None else _login(port)
            checks = {
                "protected_with_token": _get(port, "/protected", token),
                "protected_without_token": _get(port, "/protected", None),
                "protected_with_bad_token": _get(port, "/protected", "x.y.z"),
                "dependency_only_with_token": _get(port, "/dependency-only", token),
            }
            expected = {
                "protected_with_token": 200,
                "protected_without_token": 401,
                "protected_with_bad_token": 401,
                "dependency_only_with_token": 200,
            }
            if checks != expected:
                raise RuntimeError(
                    f"{provider}: the app does not authenticate as expected: {checks}"
                )

            def sample(path: str, duration: float) -> dict[str, Any]:
                cpu_before = server.cpu_seconds()
                out = drive(port, path, token, duration)
                cpu_after = server.cpu_seconds()
                if cpu_before is not None and cpu_after is not None and out["requests"]:
                    out["server_cpu_us"] = (cpu_after - cpu_before) / out["requests"] * 1e6
                return out

            for path in ROUTES:  # warm up every route
                sample(path, min(1.0, seconds))
            runs: dict[str, list[dict[str, Any]]] = {path: [] for path in ROUTES}
            for r in range(rounds):
                order = ROUTES if r % 2 == 0 else tuple(reversed(ROUTES))
                for path in order:
                    runs[path].append(sample(path, seconds))
    routes: dict[str, Any] = {}
    for path, samples in runs.items():
        if any(s["non_2xx"] for s in samples):
            raise RuntimeError(f"{provider}: {path} answered non-2xx during the run: {samples}")
        routes[path] = {"rps": statistics.median(s["rps"] for s in samples), "runs": samples}
        cpu = [s["server_cpu_us"] for s in samples if "server_cpu_us" in s]
        if len(cpu) == len(samples):
            routes[path]["server_cpu_us"] = statistics.median(cpu)
    result: dict[str, Any] = {
        "algorithm": setup.algorithm,
        "token_bytes": len(token),
        "sanity": checks,
        "routes": routes,
        "open_rps": routes["/open"]["rps"],
        "dependency_only_rps": routes["/dependency-only"]["rps"],
        "protected_rps": routes["/protected"]["rps"],
        "ratio": _paired_ratio(runs, "/protected"),
        "ratio_dependency_only": _paired_ratio(runs, "/dependency-only"),
    }
    if all("server_cpu_us" in r for r in routes.values()):
        # Server CPU time per request, the route's minus /open's in the same round: what the
        # dependency costs the server, steadier than req/s when wrk competes for the CPUs.
        for path, key in (("/protected", "protected"), ("/dependency-only", "dependency_only")):
            pairs = zip(runs[path], runs["/open"], strict=True)
            extra = statistics.median(a["server_cpu_us"] - b["server_cpu_us"] for a, b in pairs)
            result[f"{key}_extra_server_cpu_us"] = extra
    result["load_average"] = {
        "before": load_before,
        "after": [round(x, 2) for x in os.getloadavg()],
    }
    return {**result, **setup.notes}


def fastapi_e2e(
    seconds: float,
    rounds: int,
    connections: int = 8,
    tool: str | None = None,
    providers: tuple[str, ...] = PROVIDERS,
) -> dict[str, Any]:
    """Requests/s of each route for each provider (median of `rounds` runs of `seconds` each;
    every round runs each route once, the order reversed every other round), and the paired
    ratios to ``/open``. The load generator is wrk when it is on PATH, else a bounded httpx
    client. ``ratio`` is the lower of the providers' ``/protected`` ratios."""
    tool = tool or ("wrk" if shutil.which("wrk") else "httpx")

    def drive(port: int, path: str, token: str, duration: float) -> dict[str, Any]:
        if tool == "wrk":
            return _wrk(port, path, token, duration, connections)
        return _python_client(port, path, token, duration, connections, 20_000)

    results = {p: _run_provider(p, seconds, rounds, drive) for p in providers}
    worst = min(results, key=lambda p: results[p]["ratio"])
    return {
        "tool": tool,
        "connections": connections,
        "seconds_per_run": seconds,
        "rounds": rounds,
        "server": "uvicorn, 1 worker, 127.0.0.1",
        "providers": results,
        "ratio": results[worst]["ratio"],
        "ratio_provider": worst,
        "ratio_method": "median over rounds of (route rps ÷ /open rps in the same round)",
        "note": (
            "the Python client is likely the bottleneck; the ratio understates the cost"
            if tool == "httpx"
            else "wrk and uvicorn share the machine's CPUs"
        ),
    }


# --- peers: the same route guarded by other libraries ------------------------------------------

PEER_APP = "benchmarks.fastapi_peers:create_app"
#: (peer, algorithm) pairs of the peer run: HS256 with iss and aud, RS256 a Cognito access token.
PEER_CASES = (
    ("pyjwt", "HS256"),
    ("pyjwt", "RS256"),
    ("oxyjwt", "HS256"),
    ("oxyjwt", "RS256"),
    ("ryjwt", "HS256"),
    ("ryjwt", "RS256"),
    ("authx", "HS256"),
    ("fastapi-cloudauth", "RS256"),
    ("fastapi-users", "HS256"),
)
#: What each peer's app imports: a peer missing one is reported as not installed.
_PEER_MODULES = {
    "pyjwt": ("jwt",),
    "oxyjwt": ("oxyjwt",),
    "ryjwt": ("ryjwt",),  # Python 3.12+
    "authx": ("authx",),
    "fastapi-cloudauth": ("fastapi_cloudauth", "jose", "requests"),
    "fastapi-users": ("fastapi_users", "fastapi_users_db_sqlalchemy", "aiosqlite"),
}
USERS_EMAIL = "bench-user@example.com"


def _missing_modules(peer: str) -> list[str]:
    return [m for m in _PEER_MODULES[peer] if importlib.util.find_spec(m) is None]


@dataclass
class PeerSetup:
    """A peer app's environment and a token it accepts (None: log in once it is up)."""

    env: dict[str, str]
    token: str | None
    notes: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _peer_setup(peer: str, algorithm: str, tmp: Path) -> Iterator[PeerSetup]:
    env = {
        "BENCH_PEER": peer,
        "BENCH_ALGORITHM": algorithm,
        "BENCH_ISSUER": ISSUER,
        "BENCH_CLIENT_ID": AUDIENCE,
    }
    if peer == "authx":
        from authx import AuthX

        from benchmarks.fastapi_peers import DEBUG_SUB, authx_config

        secret = secrets.token_urlsafe(32)
        env["BENCH_AUTHX_SECRET"] = secret
        token = str(AuthX(config=authx_config(secret)).create_access_token(uid=DEBUG_SUB))
        yield PeerSetup(env, token)
    elif peer == "fastapi-users":
        env["BENCH_USERS_SECRET"] = secrets.token_urlsafe(32)
        env["BENCH_USERS_DB"] = str(tmp / "users.sqlite3")
        env["BENCH_USERS_EMAIL"] = USERS_EMAIL
        env["BENCH_USERS_PASSWORD"] = DEBUG_PASSWORD
        yield PeerSetup(env, None)  # the token from its login route
    elif algorithm == "HS256":
        key = tw.JWK.from_secret(secrets.token_bytes(32), "HS256")
        env["BENCH_KEY"] = key.to_json(private=True)
        yield PeerSetup(env, tw.encode(realistic_claims(), key))
    else:
        key = tw.JWK.generate(algorithm)
        env["BENCH_KEY"] = key.public().to_json()
        token = tw.encode(cognito_claims(), key)
        if peer != "fastapi-cloudauth":
            yield PeerSetup(env, token)
            return
        with JWKSHost([key]) as jwks:
            env["BENCH_JWKS_URL"] = jwks.url
            env["BENCH_COGNITO_REGION"] = COGNITO_REGION
            env["BENCH_COGNITO_POOL_ID"] = COGNITO_POOL_ID
            env["NO_PROXY"] = env["no_proxy"] = HOST  # requests would honour a proxy otherwise
            setup = PeerSetup(env, token)
            yield setup
            setup.notes["jwks_requests"] = jwks.requests


def _peer_login(port: int, peer: str) -> str:
    """fastapi-users' login route (a form, as OAuth2PasswordRequestForm reads it)."""
    if peer != "fastapi-users":
        raise ValueError(f"{peer} has no login route here")
    form = urllib.parse.urlencode({"username": USERS_EMAIL, "password": DEBUG_PASSWORD})
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        conn.request("POST", "/auth/jwt/login", body=form, headers=headers)
        resp = conn.getresponse()
        status, body = resp.status, resp.read()
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"{peer}: the login answered {status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


def _run_peer(
    peer: str, algorithm: str, seconds: float, rounds: int, drive: Callable[..., dict[str, Any]]
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"/open": [], "/protected": []}
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-e2e-") as tmp,
        _peer_setup(peer, algorithm, Path(tmp)) as setup,
        uvicorn(setup.env, Path(tmp), app=PEER_APP) as server,
    ):
        port = server.port
        token = setup.token if setup.token is not None else _peer_login(port, peer)
        checks = {
            "protected_with_token": _get(port, "/protected", token),
            "protected_without_token": _get(port, "/protected", None),
            "protected_with_bad_token": _get(port, "/protected", "x.y.z"),
        }
        # A malformed token must be refused, but with the peer's own status: authx answers 422.
        bad = checks["protected_with_bad_token"]
        if (
            checks["protected_with_token"] != 200
            or checks["protected_without_token"] != 401
            or not 400 <= bad < 500
        ):
            raise RuntimeError(f"{peer} {algorithm}: the app does not authenticate: {checks}")

        def sample(path: str, duration: float) -> dict[str, Any]:
            before = server.cpu_seconds()
            out = drive(port, path, token, duration)
            after = server.cpu_seconds()
            if before is not None and after is not None and out["requests"]:
                out["server_cpu_us"] = (after - before) / out["requests"] * 1e6
            return out

        for path in runs:
            sample(path, min(1.0, seconds))
        for r in range(rounds):
            for path in runs if r % 2 == 0 else reversed(list(runs)):
                runs[path].append(sample(path, seconds))
    result: dict[str, Any] = {"peer": peer, "algorithm": algorithm, "sanity": checks}
    for path, samples in runs.items():
        if any(x["non_2xx"] for x in samples):
            raise RuntimeError(f"{peer} {algorithm}: {path} answered non-2xx: {samples}")
        result[path] = {"rps": statistics.median(x["rps"] for x in samples), "runs": samples}
    pairs = list(zip(runs["/protected"], runs["/open"], strict=True))
    if all("server_cpu_us" in a and "server_cpu_us" in b for a, b in pairs):
        result["open_server_cpu_us"] = statistics.median(b["server_cpu_us"] for _, b in pairs)
        result["protected_extra_server_cpu_us_rounds"] = extra = [
            a["server_cpu_us"] - b["server_cpu_us"] for a, b in pairs
        ]
        result["protected_extra_server_cpu_us"] = statistics.median(extra)
    return {**result, **setup.notes}


def peers_e2e(
    seconds: float,
    rounds: int,
    connections: int = 8,
    tool: str | None = None,
    cases: tuple[tuple[str, str], ...] = PEER_CASES,
    tokenward_providers: tuple[str, ...] = PROVIDERS,
) -> dict[str, Any]:
    """Server CPU µs per request that each peer's ``/protected`` costs over its ``/open``, in the
    same uvicorn set-up, beside tokenward's with its verified-token cache on (the default, 1024)
    and off (``TOKEN_CACHE_SIZE=0``). Peers that are not installed are reported as such."""
    tool = tool or ("wrk" if shutil.which("wrk") else "httpx")

    def drive(port: int, path: str, token: str, duration: float) -> dict[str, Any]:
        if tool == "wrk":
            return _wrk(port, path, token, duration, connections)
        return _python_client(port, path, token, duration, connections, 20_000)

    out: dict[str, Any] = {"tool": tool, "seconds_per_run": seconds, "rounds": rounds}
    peers: dict[str, Any] = {}
    for peer, algorithm in cases:
        name = f"{peer} {algorithm}"
        if missing := _missing_modules(peer):
            peers[name] = {"error": f"not installed (no module {', '.join(missing)})"}
            continue
        try:
            peers[name] = _run_peer(peer, algorithm, seconds, rounds, drive)
        except Exception as exc:
            peers[name] = {"error": f"{type(exc).__name__}: {exc}"}
    for provider in tokenward_providers:
        for label, env in (("cache on", {}), ("cache off", {"TOKENWARD_TOKEN_CACHE_SIZE": "0"})):
            r = _run_provider(provider, seconds, rounds, drive, extra_env=env)
            routes = r["routes"]
            pairs = zip(routes["/protected"]["runs"], routes["/open"]["runs"], strict=True)
            peers[f"tokenward {provider} ({r['algorithm']}), {label}"] = {
                "open_server_cpu_us": r["routes"]["/open"].get("server_cpu_us"),
                "protected_extra_server_cpu_us": r.get("protected_extra_server_cpu_us"),
                "protected_extra_server_cpu_us_rounds": [
                    a["server_cpu_us"] - b["server_cpu_us"]
                    for a, b in pairs
                    if "server_cpu_us" in a and "server_cpu_us" in b
                ],
                "ratio": r["ratio"],
            }
    out["peers"] = peers
    return out


# --- in process: the app through ASGI, no server, no network ------------------------------------


def _scope(path: str, token: str | None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1")]
    if token is not None:
        headers.append((b"authorization", b"Bearer " + token.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": (HOST, 50000),
        "server": (HOST, 8000),
        "state": {},
    }


async def _asgi_get(app: Any, path: str, token: str | None) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(path, token), receive, send)
    return status


async def _in_process(setup: Setup, number: int, rounds: int) -> dict[str, Any]:
    """Both route orders of the benchmark app, so that ``/protected`` and ``/dependency-only``
    are also compared at the same position (right after ``/open``): a failed route match costs
    FastAPI more than a microsecond, which would otherwise count for one of them."""
    from fastapi import FastAPI

    from benchmarks.fastapi_app import create_app
    from tokenward.fastapi import Auth, AuthSettings

    values = {k.removeprefix("TOKENWARD_").lower(): v for k, v in setup.env.items()}
    auth = Auth(AuthSettings.from_env(prefix="TOKENWARD_BENCH_IN_PROCESS_", **values))
    app: FastAPI = create_app(auth, dependency_first=False)
    swapped: FastAPI = create_app(auth, dependency_first=True)
    runs = [(app, path) for path in ROUTES] + [(swapped, "/dependency-only")]
    async with auth.lifespan(app):
        auth.install(swapped)
        token = setup.token
        if token is None:
            pair = await auth.login(DEBUG_EMAIL, DEBUG_PASSWORD)
            assert pair is not None
            token = pair.access_token
        for target, path in runs:
            if (status := await _asgi_get(target, path, token)) != 200:
                raise RuntimeError(f"{path} answered {status} in process")
        samples: list[list[float]] = [[] for _ in runs]
        for _ in range(rounds):
            for i, (target, path) in enumerate(runs):
                t0 = time.perf_counter()
                for _ in range(number):
                    await _asgi_get(target, path, token)
                samples[i].append((time.perf_counter() - t0) / number * 1e6)
    medians = [statistics.median(s) for s in samples]
    us = dict(zip(ROUTES, medians[:3], strict=True))

    def paired(a: int, b: int) -> float:
        """Median over rounds of run a minus run b in the same round: steadier than the
        difference of medians when the machine's speed drifts between rounds."""
        return statistics.median(x - y for x, y in zip(samples[a], samples[b], strict=True))

    opened, dependency, protected, same_place = 0, 1, 2, 3
    return {
        "us_per_request": us,
        "dependency_only_right_after_open_us": medians[same_place],
        "protected_minus_open_us": paired(protected, opened),
        "dependency_only_minus_open_us": paired(dependency, opened),
        # Both right after /open: the comparison the FastAPI target is about.
        "protected_minus_dependency_only_us": paired(protected, same_place),
        # What one failed route match costs here (the same route one place further down).
        "route_match_us": paired(dependency, same_place),
    }


def in_process(
    number: int = 500, rounds: int = 31, providers: tuple[str, ...] = PROVIDERS
) -> dict[str, Any]:
    """µs per request of each route called through ASGI in this process (median of `rounds`
    rounds of `number` requests, routes interleaved): the app's own cost, no HTTP parsing."""
    out: dict[str, Any] = {}
    for provider in providers:
        with (
            tempfile.TemporaryDirectory(prefix="tokenward-e2e-") as tmp,
            provider_setup(provider, Path(tmp)) as setup,
        ):
            out[provider] = asyncio.run(_in_process(setup, number, rounds))
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.e2e``: the end-to-end run alone, or ``--in-process`` timing."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e")
    parser.add_argument("--seconds", type=float, default=5.0, help="per route and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--in-process", action="store_true", help="ASGI timing, no server")
    parser.add_argument("--peers", action="store_true", help="the FastAPI peers beside tokenward")
    args = parser.parse_args(argv)
    providers = tuple(p for p in args.providers.split(",") if p)
    if args.peers:
        result = peers_e2e(args.seconds, args.rounds, tokenward_providers=providers)
    elif args.in_process:
        result = in_process(providers=providers)
    else:
        result = fastapi_e2e(args.seconds, args.rounds, providers=providers)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
