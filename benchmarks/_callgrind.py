"""Sections of a Python run counted by callgrind, shared by benchmarks.callgrind_request and
benchmarks.callgrind_decode.

The measured module runs itself again under ``valgrind --tool=callgrind --dump-before=getppid``
with ``--inside``; inside, :func:`mark` (a ``getppid()`` call, which nothing else there makes)
starts each section, so callgrind dumps its counters there and each dump holds one section.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def mark() -> None:
    """Start the next section (callgrind dumps its counters here)."""
    os.getppid()


def _totals(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("totals:", "summary:")):
            return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def section_counts(module: str, args: list[str], sections: int) -> list[int]:
    """Run ``python -m MODULE --inside ARGS`` under callgrind; the instructions of each of its
    ``sections`` sections, in order."""
    with tempfile.TemporaryDirectory(prefix="tokenward-cg-out-") as out:
        command = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=getppid",
            f"--callgrind-out-file={out}/cg.out",
            sys.executable,
            "-m",
            module,
            "--inside",
            *args,
        ]
        subprocess.run(command, check=True, capture_output=True, env=os.environ.copy())
        dumps = sorted(
            (p for p in Path(out).iterdir() if p.name.startswith("cg.out.")),
            key=lambda p: int(p.name.rsplit(".", 1)[1]),
        )
        # dump 1: start-up and warm-up; dumps 2..: one section each; the last: the exit.
        return [_totals(p) for p in dumps[1 : 1 + sections]]
