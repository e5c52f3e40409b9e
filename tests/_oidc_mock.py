"""oidc-provider-mock (an authlib-based OpenID provider from the index) as a loopback
subprocess, shared by the OIDC resource-server tests and the external sign-in tests."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from _uvicorn_support import HOST


@contextlib.contextmanager
def mock_provider(port: int, log: Path, *args: str) -> Iterator[str]:
    """``python -m oidc_provider_mock ARGS`` on ``port``, its output appended to ``log``; yields
    its issuer once discovery answers, and stops it afterwards."""
    command = [sys.executable, "-m", "oidc_provider_mock", "--host", HOST, "--port", str(port)]
    command += args
    issuer = f"http://{HOST}:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail("oidc-provider-mock exited:\n" + log.read_text(errors="replace"))
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(issuer + "/.well-known/openid-configuration").status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail("oidc-provider-mock did not answer:\n" + log.read_text())
            time.sleep(0.2)
        yield issuer
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
