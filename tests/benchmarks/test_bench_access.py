"""Keep benchmarks/access.py from rotting: a quick SQLite run and its table. No timing
assertions."""

from __future__ import annotations

import pytest

from benchmarks import access


def test_quick_run_reports_both_stores(capsys: pytest.CaptureFixture[str]) -> None:
    results = access.run(quick=True, postgres=False)
    assert results["postgres"] == {"error": "skipped (--no-postgres)"}
    row = results["sqlite"]
    assert row["resources"] == 10_000 and row["levels"] == 5
    assert row["can_us"] > 0 and row["can_all_100_us"] > 0
    access.print_table(results)
    out = capsys.readouterr().out
    assert "sqlite" in out and "skipped (--no-postgres)" in out
