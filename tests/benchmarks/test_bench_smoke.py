"""Keep the benchmark harness from rotting: one quick run and small runs of each part, checking
the structure of what they report. No timing assertions."""

from __future__ import annotations

import json
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

import tokenward as tw
from benchmarks import e2e, extras
from benchmarks.__main__ import main
from benchmarks.floor import BINARY, FloorUnavailable, ensure_floor, run_floor
from benchmarks.peers import (
    AUDIENCE,
    ISSUER,
    PEER_NOTES,
    PEERS,
    TOKENWARD_VARIANTS,
    Case,
    Unavailable,
    make_case,
    verify_key,
)

TARGETS = {
    "HS256 PyJWT ÷ tokenward",
    "RS256 tokenward ÷ floor",
    "ES256 tokenward ÷ floor",
    "EdDSA tokenward ÷ floor",
    "EdDSA tokenward ÷ fastest peer",
    "cache hit (slowest alg)",
    "cache bounded",
    "cache never past exp",
    "RS256 2 threads ÷ 1",
    "FastAPI protected ÷ open (custom)",
    "FastAPI protected ÷ open (cognito)",
    "JWKS of 10 RSA keys parsed",
    "cache memory per entry",
    "verify_async over verify",
    "FastAPI protected - dependency-only (custom, in process)",
    "FastAPI protected - dependency-only (cognito, in process)",
    *(f"{alg} tokenward ÷ fastest peer" for alg in ("HS256", "RS256", "PS256", "ES256")),
}


def _is_cell(cell: dict[str, Any]) -> bool:
    return ("us_per_verify" in cell and cell["us_per_verify"] > 0) or isinstance(
        cell.get("error"), str
    )


def test_quick_run_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--algorithms", "HS256,ES256", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["quick"] is True
    assert set(report["verify_us"]) == {"HS256", "ES256"}
    for row in report["verify_us"].values():
        assert row["tokenward"]["us_per_verify"] > 0
        assert set(row) == {"floor", *PEERS, *TOKENWARD_VARIANTS}
        assert all(_is_cell(cell) for cell in row.values())
        if "error" in row["floor"]:
            assert row["floor"]["error"].startswith("floor unavailable: ")
    for ratios in report["ratios"].values():
        assert "tokenward_over_floor" in ratios
        assert "pyjwt_over_tokenward" in ratios
    machine = report["machine"]
    assert {"python", "platform", "processor", "cpus", "openssl", "versions"} <= set(machine)
    assert report["jwks_parse"]["us_per_parse"] > 0
    assert report["jwks_parse"]["keys"] == 3
    for section in ("cache", "cache_memory"):
        assert "error" in report[section] or "cache_info" in report[section]
    assert report["threads"]["threads_1"]["verifies_per_s"] > 0
    assert report["threads"]["threads_2"]["verifies_per_s"] > 0
    assert report["threads"]["ratio"] > 0
    assert report["fastapi"] == {"skipped": "skipped in quick mode"}
    assert report["fastapi_in_process"] == {"skipped": "skipped in quick mode"}
    targets = {t["target"]: t for t in report["targets"]}
    not_run = {
        "RS256 tokenward ÷ floor",
        "EdDSA tokenward ÷ floor",
        *(f"{alg} tokenward ÷ fastest peer" for alg in ("RS256", "PS256", "EdDSA")),
        *(t for t in TARGETS if "in process" in t),
    }
    assert set(targets) == TARGETS - not_run
    assert all(t["met"] in (True, False, None) for t in targets.values())
    printed = capsys.readouterr().out
    assert "tokenward" in printed
    assert "Targets" in printed


@pytest.mark.parametrize("algorithm", ["HS256", "RS256", "ES256", "EdDSA"])
def test_every_installed_peer_returns_the_same_claims(algorithm: str) -> None:
    case = make_case(algorithm)
    expected = PEERS["tokenward"](case)
    assert expected is not None
    claims = expected()
    without_aud = {k: v for k, v in claims.items() if k != "aud"}
    for name, factory in {**PEERS, **TOKENWARD_VARIANTS}.items():
        try:
            verify = factory(case)
        except Unavailable:
            continue
        if verify is None:
            continue
        want = without_aud if name in PEER_NOTES else claims  # peers that cannot check aud
        assert verify() == want, name
        assert verify() == want, name  # a second call (a cache hit where there is a cache)


def test_floor_reports_a_reason_or_a_figure() -> None:
    try:
        binary = ensure_floor(build=False)
    except FloorUnavailable as exc:
        assert str(exc)
        pytest.skip(f"floor not built: {exc}")
    assert binary == BINARY
    for algorithm in ("HS256", "ES256"):
        result = run_floor(binary, make_case(algorithm), rounds=1, min_time=0.001)
        assert result["us_per_verify"] > 0
        assert result["openssl"].startswith("OpenSSL")


class _FakeCachedVerifier:
    """Stands in for tokenward's cache (same interface) so the cache measurements are exercised
    in builds without it."""

    def __init__(self, case: Case, cache_size: int) -> None:
        self._verifier = tw.Verifier(
            verify_key(case), algorithms=[case.algorithm], issuer=ISSUER, audience=AUDIENCE
        )
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._capacity = cache_size
        self._hits = 0
        self._misses = 0

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        cached = self._entries.get(token)
        if cached is not None and now is None:
            self._hits += 1
            return dict(cached)
        self._misses += 1
        claims = self._verifier.verify(token, now=now)
        self._entries[token] = claims
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
        return claims

    def cache_info(self) -> dict[str, int]:
        return {
            "hits": self._hits,
            "misses": self._misses,
            "size": len(self._entries),
            "capacity": self._capacity,
        }


def test_cache_measurements_with_a_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extras, "cached_verifier", _FakeCachedVerifier)
    rules = extras.cache_rules(make_case("HS256"))
    assert rules["bounded"] is True
    assert rules["never_past_exp"] is True
    memory = extras.cache_memory(200)
    assert memory["entries"] == 200
    assert memory["cache_info"]["size"] == 200
    assert {"rss_delta_bytes", "rss_delta_mib", "bytes_per_entry"} <= set(memory)


@pytest.mark.parametrize("provider", e2e.PROVIDERS)
def test_fastapi_app_authenticates(tmp_path: Path, provider: str) -> None:
    """The benchmark app, in process through TestClient, with each provider's settings."""
    from benchmarks.fastapi_app import BODY, create_app
    from tokenward.fastapi import Auth, AuthSettings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's test-client import warning
        from fastapi.testclient import TestClient

    with e2e.provider_setup(provider, tmp_path) as setup:
        values = {k.removeprefix("TOKENWARD_").lower(): v for k, v in setup.env.items()}
        auth = Auth(AuthSettings.from_env(prefix="TOKENWARD_BENCH_SMOKE_", **values))
        with TestClient(create_app(auth)) as client:
            token = setup.token
            if token is None:
                login = {"email": e2e.DEBUG_EMAIL, "password": e2e.DEBUG_PASSWORD}
                token = client.post("/v1/auth/login", json=login).json()["access_token"]
            auth_header = {"Authorization": f"Bearer {token}"}
            assert client.get("/open").json() == BODY
            assert client.get("/protected").status_code == 401
            bad = {"Authorization": "Bearer x.y.z"}
            assert client.get("/protected", headers=bad).status_code == 401
            assert client.get("/protected", headers=auth_header).json() == BODY
            assert client.get("/dependency-only", headers=auth_header).json() == BODY
            me = client.get("/v1/auth/me", headers=auth_header).json()
            assert me["provider"] == provider
            if provider == "cognito":
                assert me["groups"] == ["operator", "user"]
                assert "reports:read" in me["scopes"]


def test_cognito_benchmark_token_is_shaped_like_cognitos() -> None:
    claims = e2e.cognito_claims()
    assert claims["token_use"] == "access"
    assert claims["client_id"] == AUDIENCE
    assert "aud" not in claims  # Cognito access tokens carry client_id, not aud
    assert claims["iss"].endswith("/" + e2e.COGNITO_POOL_ID)
    assert e2e.COGNITO_POOL_ID.startswith(e2e.COGNITO_REGION + "_")


def test_fastapi_end_to_end_harness() -> None:
    result = e2e.fastapi_e2e(seconds=0.3, rounds=1, connections=2, tool="httpx")
    assert result["tool"] == "httpx"
    assert set(result["providers"]) == set(e2e.PROVIDERS)
    for provider in result["providers"].values():
        assert provider["sanity"]["protected_with_token"] == 200
        assert provider["sanity"]["protected_without_token"] == 401
        assert set(provider["routes"]) == set(e2e.ROUTES)
        assert provider["open_rps"] > 0
        assert provider["protected_rps"] > 0
        assert provider["ratio"] > 0
    assert result["providers"]["cognito"]["jwks_requests"] >= 1
    assert result["ratio"] == min(p["ratio"] for p in result["providers"].values())


def test_in_process_timing() -> None:
    result = e2e.in_process(number=20, rounds=1)
    assert set(result) == set(e2e.PROVIDERS)
    for provider in result.values():
        assert set(provider["us_per_request"]) == set(e2e.ROUTES)
        assert all(us > 0 for us in provider["us_per_request"].values())


def test_fastapi_peer_harness() -> None:
    """One peer app under uvicorn (PyJWT with a Cognito-shaped RS256 token; PyJWT is in the test
    extra) and the harness's report of it."""
    pytest.importorskip("jwt")
    cases = (("pyjwt", "RS256"),)
    result = e2e.peers_e2e(0.3, 1, connections=2, tool="httpx", cases=cases, tokenward_providers=())
    peer = result["peers"]["pyjwt RS256"]
    assert peer["sanity"] == {
        "protected_with_token": 200,
        "protected_without_token": 401,
        "protected_with_bad_token": 401,
    }
    assert peer["/protected"]["rps"] > 0
    assert peer["protected_extra_server_cpu_us"] is not None


@pytest.mark.parametrize(
    ("peer", "algorithm"), [("fastapi-cloudauth", "RS256"), ("fastapi-users", "HS256")]
)
def test_fastapi_library_peers(peer: str, algorithm: str) -> None:
    """The peers the bench extra installs: fastapi-cloudauth with its keys from the loopback
    JWKS, fastapi-users with a token from its own login route and its user in SQLite."""
    if missing := e2e._missing_modules(peer):
        pytest.skip(f"{peer} not installed (the bench extra has it): no {missing}")
    cases = ((peer, algorithm),)
    result = e2e.peers_e2e(0.3, 1, connections=2, tool="httpx", cases=cases, tokenward_providers=())
    out = result["peers"][f"{peer} {algorithm}"]
    assert "error" not in out, out.get("error")
    assert out["sanity"] == {
        "protected_with_token": 200,
        "protected_without_token": 401,
        "protected_with_bad_token": 401,
    }
    assert out["/protected"]["rps"] > 0
    assert out["protected_extra_server_cpu_us"] is not None
    assert len(out["protected_extra_server_cpu_us_rounds"]) == 1
    if peer == "fastapi-cloudauth":
        assert out["jwks_requests"] == 1  # fetched once, at start-up, from 127.0.0.1


def test_missing_peer_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(e2e._PEER_MODULES, "fastapi-users", ("no_such_module_for_the_bench",))
    cases = (("fastapi-users", "HS256"),)
    result = e2e.peers_e2e(0.3, 1, connections=2, tool="httpx", cases=cases, tokenward_providers=())
    error = result["peers"]["fastapi-users HS256"]["error"]
    assert error == "not installed (no module no_such_module_for_the_bench)"
