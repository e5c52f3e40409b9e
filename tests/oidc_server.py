"""A small OpenID Connect issuer on loopback: the remote end of tests/test_oidc.py.

``IssuerServer`` serves, on 127.0.0.1 and a free port:

* ``/.well-known/openid-configuration`` (under ``path``, the issuer's path): a discovery
  document naming ``issuer`` (the server's own URL unless ``document_issuer`` says otherwise)
  and ``jwks_uri``; ``discovery`` is ``"ok"``, ``"500"`` or ``"huge"`` (a 2 MiB document);
* ``/jwks``: the public keys of ``keys`` (changed at will: rotation);
* ``/introspect`` (RFC 7662): POST ``token=...`` with HTTP Basic client credentials
  ``client_id``/``client_secret``; answers from ``tokens`` (token → its JSON answer;
  ``{"active": false}`` for any other), or ``introspection`` = ``"500"``.

``requests`` counts requests per path. It signs tokens with :meth:`sign` (the first key).
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
import urllib.parse
from typing import Any

import tokenward as tw

DISCOVERY = "/.well-known/openid-configuration"


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class IssuerServer:
    def __init__(self, *, path: str = "", trailing_slash: bool = False) -> None:
        self.path = path
        self.trailing_slash = trailing_slash
        self.keys: list[tw.JWK] = [tw.JWK.generate("RS256")]
        self.discovery = "ok"
        self.document_issuer: str | None = None
        self.jwks_status = "ok"
        self.introspection = "ok"
        self.client_id = "resource-server"
        self.client_secret = "s3cret-of-the-resource-server"
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._count(self.path)
                server._get(self)

            def do_POST(self) -> None:
                server._count(self.path)
                server._post(self)

            def send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # --- control ------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def issuer(self) -> str:
        return self.base + self.path + ("/" if self.trailing_slash else "")

    @property
    def introspection_url(self) -> str:
        return self.base + "/introspect"

    def start(self) -> IssuerServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def count(self, path: str) -> int:
        with self._lock:
            return self.requests.get(path, 0)

    def sign(self, claims: dict[str, Any], *, key: tw.JWK | None = None, **extra: Any) -> str:
        """A token of this issuer: ``iss``, ``iat``, ``exp`` (in an hour) and ``sub`` unless
        given, signed by ``key`` (the first of ``keys``)."""
        now = int(time.time())
        body = {"iss": self.issuer, "sub": "user-1", "iat": now, "exp": now + 3600}
        body.update(claims)
        body.update(extra)
        signing = key or self.keys[0]
        return tw.encode(body, signing, algorithm=signing.algorithm or "RS256")

    # --- serving ------------------------------------------------------------------------------

    def _count(self, path: str) -> None:
        with self._lock:
            self.requests[path] = self.requests.get(path, 0) + 1

    def _get(self, handler: Any) -> None:
        if handler.path == self.path + DISCOVERY:
            if self.discovery == "500":
                handler.send(500, b"down")
                return
            document: dict[str, Any] = {
                "issuer": self.document_issuer or self.issuer,
                "jwks_uri": self.base + "/jwks",
                "introspection_endpoint": self.introspection_url,
                "id_token_signing_alg_values_supported": ["RS256"],
            }
            if self.discovery == "huge":
                document["padding"] = "x" * (2 << 20)
            handler.send(200, json.dumps(document).encode())
        elif handler.path == "/jwks":
            if self.jwks_status != "ok":
                handler.send(int(self.jwks_status), b"no")
                return
            body = {"keys": [k.public().to_dict() for k in self.keys]}
            handler.send(200, json.dumps(body).encode())
        else:
            handler.send(404, b"{}")

    def _post(self, handler: Any) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(handler.rfile.read(length).decode())
        if handler.path != "/introspect":
            handler.send(404, b"{}")
            return
        if self.introspection == "500":
            handler.send(500, b"down")
            return
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if handler.headers.get("Authorization") != f"Basic {expected}":
            handler.send(401, b'{"error": "invalid_client"}')
            return
        token = (form.get("token") or [""])[0]
        answer = self.tokens.get(token, {"active": False})
        handler.send(200, json.dumps(answer).encode())
