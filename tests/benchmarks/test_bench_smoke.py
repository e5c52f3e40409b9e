"""Keep the benchmark harness from rotting: one quick run and small runs of each part, checking
the structure of what they report. No timing assertions."""

from __future__ import annotations

import importlib
import json
import sys
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
    "cache hit (slowest alg)",
    "cache bounded",
    "cache never past exp",
    "RS256 2 threads ÷ 1",
    "FastAPI protected ÷ open",
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
    targets = {t["target"]: t for t in report["targets"]}
    assert set(targets) == TARGETS - {"RS256 tokenward ÷ floor", "EdDSA tokenward ÷ floor"}
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
    for name, factory in {**PEERS, **TOKENWARD_VARIANTS}.items():
        try:
            verify = factory(case)
        except Unavailable:
            continue
        if verify is None:
            continue
        assert verify() == claims, name
        assert verify() == claims, name  # a second call (a cache hit where there is a cache)


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


def test_fastapi_app_authenticates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = make_case("ES256")
    jwk_file = tmp_path / "key.json"
    jwk_file.write_text(json.dumps(case.public_jwk))
    monkeypatch.setenv("TOKENWARD_BENCH_JWK", str(jwk_file))
    monkeypatch.setenv("TOKENWARD_BENCH_ALG", "ES256")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlette's test-client import warning
        from fastapi.testclient import TestClient
    sys.modules.pop("benchmarks.fastapi_app", None)
    module = importlib.import_module("benchmarks.fastapi_app")
    client = TestClient(module.app)
    auth = {"Authorization": f"Bearer {case.token}"}
    assert client.get("/open").json() == module.BODY
    assert client.get("/protected").status_code == 401
    assert client.get("/protected", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    assert client.get("/protected", headers=auth).json() == module.BODY
    assert client.get("/protected-nocache", headers=auth).json() == module.BODY
    assert client.get("/dependency-only", headers=auth).json() == module.BODY
    assert client.get("/dependency-only").status_code == 401
    sys.modules.pop("benchmarks.fastapi_app", None)


def test_fastapi_end_to_end_harness() -> None:
    result = e2e.fastapi_e2e(seconds=0.3, rounds=1, connections=2, tool="httpx")
    assert result["tool"] == "httpx"
    assert result["sanity"]["protected_with_token"] == 200
    assert result["sanity"]["protected_without_token"] == 401
    assert set(result["routes"]) == set(e2e.ROUTES)
    assert result["open_rps"] > 0
    assert result["protected_rps"] > 0
    assert result["ratio"] > 0
