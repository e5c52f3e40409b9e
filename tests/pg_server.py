"""A throwaway PostgreSQL server for tests: initdb in a temporary directory, loopback only.

Usage (the store tests' fixtures in tests/stores/conftest.py do this once a session)::

    with PostgresServer() as server:
        url = server.create_database("mytest")  # postgresql://postgres@127.0.0.1:<port>/mytest
        ...
        server.stop()   # the database goes away (connections fail) ...
        server.start()  # ... and comes back on the same port with the same data

It finds Debian's server binaries (``/usr/lib/postgresql/<version>/bin``, the newest version;
``TOKENWARD_PG_BIN`` overrides, then ``PATH``). PostgreSQL refuses to run as root, so as root the
cluster belongs to the unprivileged user ``nobody`` and every server command runs as that user.
The server listens on 127.0.0.1 only, keeps its Unix socket inside the temporary directory, and
runs with fsync off (its data is thrown away). Authentication is ``trust`` (loopback only).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["PostgresServer", "find_pg_bin"]

_DEBIAN_ROOT = Path("/usr/lib/postgresql")
_UNPRIVILEGED = "nobody"


def find_pg_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``; RuntimeError when there is none."""
    override = os.environ.get("TOKENWARD_PG_BIN")
    if override:
        candidate = Path(override)
        if (candidate / "initdb").is_file():
            return candidate
        raise RuntimeError(f"TOKENWARD_PG_BIN={override!r} holds no initdb")
    if _DEBIAN_ROOT.is_dir():
        versions = sorted(
            (
                p
                for p in _DEBIAN_ROOT.iterdir()
                if p.name.isdigit() and (p / "bin/initdb").is_file()
            ),
            key=lambda p: int(p.name),
        )
        if versions:
            return versions[-1] / "bin"
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise RuntimeError(
        "no PostgreSQL server binaries (initdb, pg_ctl): run scripts/system-deps.sh as root "
        "(it installs Debian's postgresql) or set TOKENWARD_PG_BIN"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL cluster in a temporary directory; :meth:`start` creates it the first time."""

    def __init__(self, *, port: int | None = None) -> None:
        self.bin = find_pg_bin()
        self.port = port or _free_port()
        self.base = Path(tempfile.mkdtemp(prefix="tokenward-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "socket"
        self.log = self.base / "server.log"
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(_UNPRIVILEGED)
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        self._initialised = False
        self.running = False

    # --- commands, as the cluster's owner -----------------------------------------------------

    def _run(self, *args: str | os.PathLike[str], check: bool = True) -> None:
        result = subprocess.run(
            [os.fspath(a) for a in args],
            cwd=self.base,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            **self._as,
        )
        if check and result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"{Path(os.fspath(args[0])).name} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log}"
            )

    def _initdb(self) -> None:
        self.socket_dir.mkdir()
        if self._as:
            os.chown(self.socket_dir, self._as["user"], self._as["group"])
        self._run(
            self.bin / "initdb",
            "-D",
            self.data,
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        self._initialised = True

    def start(self) -> None:
        """Start the server (creating the cluster the first time); waits until it accepts."""
        if not self._initialised:
            self._initdb()
        options = " ".join(
            (
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.socket_dir}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=300",
            )
        )
        self._run(
            self.bin / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.log,
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.running = True

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut). The data stays."""
        if self.running:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop")
            self.running = False

    def close(self) -> None:
        """Stop the server and delete the cluster."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    # --- databases ----------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database (a plain identifier) and return its URL."""
        if not name.replace("_", "").isalnum() or not name[0].isalpha():
            raise ValueError(f"not a plain database name: {name!r}")
        import psycopg  # the test extra has it

        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # checked above
        return self.url(name)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            with contextlib.suppress(Exception):
                self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
