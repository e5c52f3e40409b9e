"""The Makefile's set-up targets, read with ``make -n`` (nothing is built or installed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def dry_run(target: str, venv: Path) -> str:
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def installs(output: str) -> list[str]:
    """The extras of every ``pip install … ".[extras]"`` of the package the dry run shows."""
    return re.findall(r'pip install -v [^\n]*"\.\[([a-z,]+)\]"', output)


def test_demo_installs_only_what_the_demo_needs(tmp_path: Path) -> None:
    """Issue 20 item 24: ``make demo`` installed the whole test toolchain (".[test,fastapi]",
    about 100 packages). It installs the fastapi and accounts extras, all examples/app.py needs;
    ``make test``'s install keeps the rest."""
    venv = tmp_path / "venv"
    assert installs(dry_run("demo", venv)) == ["fastapi,accounts"]
    assert installs(dry_run("install", venv)) == ["test,fastapi"]


def test_each_install_keeps_its_stamp(tmp_path: Path) -> None:
    """A stamp newer than every source skips the build: the demo's own, or the full install's
    (which also satisfies the demo); the demo's stamp does not satisfy ``make install``."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").touch()
    demo_stamp = venv / ".tokenward-demo-installed"
    demo_stamp.touch()
    later = time.time() + 3600  # newer than every source
    os.utime(demo_stamp, (later, later))
    assert installs(dry_run("demo", venv)) == []
    assert installs(dry_run("install", venv)) == ["test,fastapi"]
    # The full install touches both stamps.
    assert "touch " in dry_run("install", venv)
    assert str(demo_stamp) in dry_run("install", venv)
