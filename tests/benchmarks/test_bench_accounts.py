"""Keep benchmarks/accounts.py from rotting: tiny runs of each part, checking the shape of what
they report and that known and unknown emails got the same answer bodies. No timing assertions."""

from __future__ import annotations

from pathlib import Path

from benchmarks import accounts


def test_hash_costs_report_median_and_p90() -> None:
    result = accounts.hash_costs(1)
    assert result["passes"] >= 2 and result["memory_mib"] >= 19
    assert result["hash"]["median_ms"] > 0 and result["verify"]["p90_ms"] > 0


def test_protected_under_sign_ins(tmp_path: Path) -> None:
    result = accounts.protected_under_signins(tmp_path, 20)
    assert result["idle"]["n"] == result["busy"]["n"] == 20
    assert result["p99_ratio"] > 0 and result["sign_ins_per_second"] >= 0


def test_enumeration_answers_are_the_same(tmp_path: Path) -> None:
    result = accounts.enumeration(tmp_path, 2)
    assert set(result) == {"signup", "login", "forgot-password"}
    for entry in result.values():
        assert entry["same_bodies"] is True
        assert entry["known"]["n"] == entry["unknown"]["n"] == 2
    assert "with_next_request" in result["forgot-password"]
    accounts.print_table(
        {"hash": accounts.hash_costs(1), "protected": _fake_protected(), "enumeration": result}
    )


def _fake_protected() -> dict[str, object]:
    row = {"n": 1, "median_ms": 1.0, "p90_ms": 1.0, "p99_ms": 1.0}
    return {
        "idle": row,
        "busy": row,
        "p99_ratio": 1.0,
        "median_ratio": 1.0,
        "sign_ins_per_second": 0.0,
    }
