"""The raw-crypto floor (OpenSSL; libsodium for EdDSA, as in the core): build
``benchmarks/native/floor.cpp`` with the project's CMake into ``build/bench`` and run it on the
same key and token the Python libraries verify.

When the floor cannot be built or run, :class:`FloorUnavailable` carries the reason and the
benchmark reports "floor unavailable: <reason>" instead of failing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.peers import Case

ROOT = Path(__file__).resolve().parents[1]
BUILD_DIR = ROOT / "build" / "bench"
BINARY = BUILD_DIR / "floor"
SOURCE = Path(__file__).resolve().parent / "native" / "floor.cpp"


class FloorUnavailable(Exception):
    """The floor program could not be built or run; the message says why."""


def _tail(text: str, lines: int = 4) -> str:
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:]) or "no output"


def _run(cmd: list[str], timeout: float, what: str) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise FloorUnavailable(f"{what} took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise FloorUnavailable(f"{what} failed: {_tail(proc.stdout + proc.stderr)}")


def ensure_floor(build: bool) -> Path:
    """The floor binary, configured and (re)built first when `build` is true (ninja rebuilds only
    what is stale); with `build` false an existing binary is used as it is."""
    if not build:
        if BINARY.exists():
            return BINARY
        raise FloorUnavailable(
            "not built (quick mode skips the build; a full `python -m benchmarks` builds it)"
        )
    for tool in ("cmake", "ninja"):
        if shutil.which(tool) is None:
            raise FloorUnavailable(f"`{tool}` is not on PATH")
    if importlib.util.find_spec("nlohmann_json") is None:
        raise FloorUnavailable(
            "the `nlohmann-json` package is not importable by this Python "
            "(pip install 'nlohmann-json>=3.11.3', or the `bench` extra)"
        )
    if not (BUILD_DIR / "build.ninja").exists():
        print(f"configuring the floor in {BUILD_DIR.relative_to(ROOT)} ...", flush=True)
        _run(
            [
                "cmake",
                "-S",
                str(ROOT),
                "-B",
                str(BUILD_DIR),
                "-G",
                "Ninja",
                "-DCMAKE_BUILD_TYPE=Release",
                "-DTOKENWARD_BUILD_MODULE=OFF",
                "-DTOKENWARD_BUILD_TOOLS=ON",
                f"-DPython_EXECUTABLE={sys.executable}",
            ],
            timeout=300,
            what="cmake configure",
        )
    print("building the floor (cmake --build build/bench --target floor) ...", flush=True)
    _run(
        ["cmake", "--build", str(BUILD_DIR), "--target", "floor"],
        timeout=1200,
        what="cmake build",
    )
    if not BINARY.exists():
        raise FloorUnavailable(f"the build finished without {BINARY.relative_to(ROOT)}")
    return BINARY


def run_floor(binary: Path, case: Case, rounds: int, min_time: float) -> dict[str, Any]:
    """µs per raw OpenSSL verify of `case`'s signature (median of `rounds`), as the program
    reports it: ``{"us_per_verify", "samples_us", "openssl"}``, and for EdDSA (checked with
    libsodium, as tokenward does) also ``"backend"`` and ``"openssl_us_per_verify"``."""
    with tempfile.TemporaryDirectory(prefix="tokenward-floor-") as tmp:
        jwk_file = Path(tmp) / "key.json"
        token_file = Path(tmp) / "token.txt"
        jwk_file.write_text(json.dumps(case.public_jwk))
        token_file.write_text(case.token)
        cmd = [
            str(binary),
            case.algorithm,
            str(jwk_file),
            str(token_file),
            str(rounds),
            str(min_time),
        ]
        # Calibration doubles the count until a round lasts min_time, then `rounds` more rounds.
        timeout = 60 + 4 * rounds * min_time
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise FloorUnavailable(f"the floor program took longer than {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise FloorUnavailable(f"the floor program failed: {_tail(proc.stderr)}")
    try:
        result: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise FloorUnavailable(f"unreadable floor output: {proc.stdout[:200]!r}") from exc
    result.pop("algorithm", None)
    return result
