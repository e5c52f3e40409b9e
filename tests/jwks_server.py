"""A JWKS server on loopback that misbehaves on request: the remote end of tests/test_jwks.py.

``JWKSServer`` serves ``keys`` at ``/jwks.json``; each request takes the next behaviour from
``script`` (a list of behaviours consumed in order), else the next one of ``cycle`` (repeated
forever, for a flapping server), else ``default``.
Behaviours:

``"ok"`` the key set; ``"500"``/``"404"``/``"302"`` that status; ``"hang"`` wait ``hang_seconds``
then serve the key set; ``"slow"`` the key set one byte every ``drip_seconds``; ``"garbage"``
random bytes; ``"html"`` an HTML page (status 200); ``"empty"`` ``{"keys": []}``; ``"oct"`` a set
holding a secret key; ``"huge"`` a 2 MiB body with Content-Length; ``"huge_chunked"`` the same
without a Content-Length; ``"gzip"`` the key set with ``Content-Encoding: gzip``.

``requests`` counts every request to the key-set path; ``last_headers`` are the request headers
of the last one. Everything binds to 127.0.0.1 on a free
port, and ``stop()`` releases handlers that are still hanging.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import threading
from collections.abc import Iterable
from typing import Any

import tokenward as tw

PATH = "/jwks.json"


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-body is what some tests do on purpose


class JWKSServer:
    def __init__(self) -> None:
        self.keys: list[tw.JWK] = []
        self.default = "ok"
        self.script: list[str] = []
        self.cycle: list[str] = []
        self.hang_seconds = 2.0
        self.drip_seconds = 0.05
        self.requests = 0
        self.last_headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._in_handler = threading.Semaphore(0)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != PATH:
                    self._send(404, b"not found")
                    return
                server._serve(self)

            def _send(
                self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._handler = Handler
        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- control ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def start(self) -> JWKSServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def body(self) -> bytes:
        return json.dumps({"keys": [k.public().to_dict() for k in self.keys]}).encode()

    def wait_for_request(self, timeout: float = 5.0) -> bool:
        """Block until a handler has taken a request (for tests that act while it hangs)."""
        return self._in_handler.acquire(timeout=timeout)

    # --- serving ----------------------------------------------------------------------------

    def _serve(self, handler: Any) -> None:
        with self._lock:
            self.requests += 1
            self.last_headers = dict(handler.headers.items())
            if self.script:
                behaviour = self.script.pop(0)
            elif self.cycle:
                behaviour = self.cycle[(self.requests - 1) % len(self.cycle)]
            else:
                behaviour = self.default
        self._in_handler.release()
        json_type = [("Content-Type", "application/json")]
        if behaviour == "ok":
            handler._send(200, self.body(), json_type)
        elif behaviour.isdigit():
            headers = [("Location", "http://127.0.0.1:9/elsewhere")] if behaviour == "302" else []
            handler._send(int(behaviour), b"no", headers)
        elif behaviour == "hang":
            if not self._stop.wait(self.hang_seconds):
                handler._send(200, self.body(), json_type)
        elif behaviour == "slow":
            body = self.body()
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            for i in range(len(body)):
                if self._stop.wait(self.drip_seconds):
                    return
                try:
                    handler.wfile.write(body[i : i + 1])
                    handler.wfile.flush()
                except OSError:
                    return
        elif behaviour == "garbage":
            handler._send(200, os.urandom(512), json_type)
        elif behaviour == "html":
            handler._send(200, b"<html><body>Service Unavailable</body></html>", [])
        elif behaviour == "empty":
            handler._send(200, b'{"keys": []}', json_type)
        elif behaviour == "oct":
            secret = tw.JWK.from_secret(os.urandom(32), "HS256").to_dict(private=True)
            handler._send(200, json.dumps({"keys": [secret]}).encode(), json_type)
        elif behaviour == "huge":
            handler._send(200, b" " * (2 << 20), json_type)
        elif behaviour == "huge_chunked":
            handler.send_response(200)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(64):  # 4 MiB at most; the client should hang up after 1 MiB
                    handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.write(b"0\r\n\r\n")
            except OSError:
                return
        elif behaviour == "gzip":
            handler._send(
                200, gzip.compress(self.body()), [*json_type, ("Content-Encoding", "gzip")]
            )
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown behaviour {behaviour!r}")
