"""Keep benchmarks/api_keys.py from rotting: a quick SQLite run and its table. No timing
assertions."""

from __future__ import annotations

import logging

import pytest

from benchmarks import api_keys


def test_quick_run_reports_every_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    results = api_keys.run(quick=True, postgres=False)
    assert set(results) == {"sqlite ttl=5", "sqlite ttl=0", "postgres"}
    assert results["postgres"] == {"error": "skipped (--no-postgres)"}
    for name in ("sqlite ttl=5", "sqlite ttl=0"):
        row = results[name]
        assert row["access_token_us"] > 0 and row["api_key_us"] > 0
        assert row["ratio"] > 0 and row["requests_per_round"] == 20
    api_keys.print_table(results)
    out = capsys.readouterr().out
    assert "sqlite ttl=0" in out and "skipped (--no-postgres)" in out


def test_main_runs_and_leaves_logging_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("tokenward")
    before = log.level
    assert api_keys.main(["--quick", "--no-postgres"]) == 0
    out = capsys.readouterr().out
    assert "API key" in out and "load average" in out
    assert log.level == before


def test_quick_lookup_timing_reports_both_paths(capsys: pytest.CaptureFixture[str]) -> None:
    """The refused-key timing of issue 20 item 9 runs (quick, SQLite) and prints its table; the
    figures themselves are for `make bench`, never asserted."""
    results = api_keys.lookup_timing(quick=True, postgres=False)
    assert set(results) == {"sqlite ttl=5", "sqlite ttl=0", "postgres"}
    for name in ("sqlite ttl=5", "sqlite ttl=0"):
        row = results[name]
        assert row["unknown_prefix_us"] > 0 and row["wrong_secret_us"] > 0
        assert row["ratio"] > 0 and row["samples_each"] == 50
    api_keys.print_lookup_table(results)
    assert "unknown prefix" in capsys.readouterr().out
    assert api_keys.main(["--quick", "--no-postgres", "--lookup"]) == 0
    assert "wrong secret" in capsys.readouterr().out
