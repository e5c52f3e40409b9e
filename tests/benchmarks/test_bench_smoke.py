"""Keep the benchmark harness from rotting: one quick run, no timing assertions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.__main__ import main
from benchmarks.peers import PEERS, make_case


def test_quick_run_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "latest.json"
    assert main(["--quick", "--algorithms", "HS256,ES256", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["verify_us"]) == {"HS256", "ES256"}
    for row in report["verify_us"].values():
        assert row["tokenward"]["us_per_verify"] > 0
    assert "tokenward" in capsys.readouterr().out


@pytest.mark.parametrize("algorithm", ["HS256", "RS256", "ES256", "EdDSA"])
def test_every_installed_peer_returns_the_same_claims(algorithm: str) -> None:
    case = make_case(algorithm)
    expected = PEERS["tokenward"](case)
    assert expected is not None
    claims = expected()
    for name, factory in PEERS.items():
        verify = factory(case)
        if verify is None:
            continue
        assert verify() == claims, name
