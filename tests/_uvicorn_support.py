"""Real uvicorn processes on free loopback ports, for end-to-end tests.

``serve`` is the one way the tests start one: a fresh environment (this process's minus the
settings prefixes it is told to drop), ``python -m uvicorn`` on 127.0.0.1, a bounded wait until
the app answers, its output in a log file, and a stop that always happens. ``example_app`` is
examples/app.py under it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import tokenward

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
HOST = "127.0.0.1"
STOP_TIMEOUT = 15.0  # seconds to wait for a graceful stop, then again after a kill


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """A running uvicorn: where it answers, its process, and the file its output goes to."""

    base_url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _environment(settings: Mapping[str, str], drop: tuple[str, ...]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    # the server imports the tokenward these tests import (a source tree first on the path
    # included), whatever its working directory
    source = str(Path(tokenward.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(settings)
    return env


def _wait_ready(server: Server, what: str, url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        code = server.process.poll()
        if code is not None:
            pytest.fail(f"{what} exited early (status {code}):\n{server.log_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: GET {url} gave no 200 in {timeout:g} s:\n{server.log_text()}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # SIGTERM: uvicorn lets in-flight requests finish
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def serve(
    app: str,
    settings: Mapping[str, str],
    *,
    workdir: Path,
    app_dir: Path = EXAMPLES,
    name: str | None = None,
    ready_path: str = "/v1/health",
    timeout: float = 60.0,
    drop: tuple[str, ...] = ("TOKENWARD_",),
    args: Sequence[str] = (),
    port: int | None = None,
) -> Iterator[Server]:
    """``uvicorn <app>`` (``module:attribute`` in ``app_dir``) on a free port of 127.0.0.1,
    working directory ``workdir``, environment this process's without the variables starting with
    one of ``drop``, plus ``settings`` (and the tokenward these tests import first on PYTHONPATH).
    Its output goes to ``workdir/uvicorn-<name>.log`` (``name``: the module's, unless given).
    ``args`` go to uvicorn after the others (``--forwarded-allow-ips=*``...). ``port``: a port
    chosen beforehand (with :func:`free_port`), when the settings must name the server's origin.

    Yields once GET ``ready_path`` answers 200; fails the test, with the log, when the process
    exits or does not answer within ``timeout`` seconds. Stopped when the block ends, however it
    ends (SIGTERM, then SIGKILL if it has not stopped in STOP_TIMEOUT). When the block ended
    without an error, the test fails if the log holds a traceback."""
    label = name or app.split(":", 1)[0]
    what = f"uvicorn {app}" + (f" ({name})" if name else "")
    log = workdir / f"uvicorn-{label}.log"
    port = free_port() if port is None else port
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(app_dir)]
    command += ["--host", HOST, "--port", str(port), "--no-access-log", *args]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=_environment(settings, drop),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://{HOST}:{port}", port, process, log)
    try:
        _wait_ready(server, what, server.base_url + ready_path, timeout)
        yield server
    finally:
        _stop(process)
    text = server.log_text()
    assert "Traceback" not in text, text


@contextlib.contextmanager
def example_app(workdir: Path, settings: Mapping[str, str]) -> Iterator[str]:
    """Run examples/app.py with ``settings`` (TOKENWARD_* of this process removed); yields its
    base URL. Fails the test when uvicorn does not come up or logs a traceback."""
    with serve("app:app", settings, workdir=workdir) as server:
        yield server.base_url
