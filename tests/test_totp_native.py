"""The C++ one-time-password core on its own, with no Python in between: cpp/tests/test_totp.cpp
(RFC 6238 Appendix B, RFC 4226 Appendix D, window edges, bounds, base32, recovery codes) compiled
against the core's sources with the build's warning flags, then run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [
    "cpp/tests/test_totp.cpp",
    "cpp/src/totp.cpp",
    "cpp/src/base32.cpp",
    "cpp/src/recovery_codes.cpp",
    "cpp/src/secret.cpp",
    "cpp/src/errc.cpp",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "cpp/src/crypto").glob("*.cpp")),
]
FLAGS = ["-std=c++20", "-O1", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Wconversion"]
FLAGS += ["-Wno-sign-conversion", "-Werror"]


def test_the_native_known_answers_pass(tmp_path: Path) -> None:
    compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if compiler is None:  # pragma: no cover - the package itself needs a C++ compiler to build
        pytest.skip("no C++ compiler")
    binary = tmp_path / "test_totp"
    build = subprocess.run(
        [compiler, *FLAGS, "-I", "cpp/include", *SOURCES, "-o", str(binary), "-lcrypto"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout
    assert result.stdout.endswith("checks, 0 failed\n")
