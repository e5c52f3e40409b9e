"""A small stand-in for GitHub's OAuth 2.0 endpoints and user API on loopback, for the external
sign-in tests (tests/test_oauth*.py). A real HTTP server (a thread of this process), which:

* ``GET /login/oauth/authorize``: checks ``client_id`` and the PKCE ``code_challenge`` (S256
  only), then redirects (302) to ``redirect_uri`` with a fresh ``code`` and the ``state``;
* ``POST /login/oauth/access_token``: exchanges a code once, checking the client secret, the
  ``redirect_uri`` and the PKCE ``code_verifier`` against the challenge (RFC 7636 §4.6): a
  missing or wrong verifier is refused with GitHub's shape, 200 and ``{"error": ...}``;
* ``GET /user`` and ``GET /user/emails``: the signed-in user (``user``) and its ``emails``, for
  a bearer access token it issued.

``token_status`` set to a number makes the token endpoint answer that status (a provider that
is down: 503). ``refusals`` counts refused exchanges by reason.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import urllib.parse
from typing import Any


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class GitHubServer:
    def __init__(self) -> None:
        self.client_id = "gh-client"
        self.client_secret = "gh-secret-of-the-app"
        self.user: dict[str, Any] = {"id": 4242, "login": "octo", "name": "Octo Cat"}
        self.emails: list[dict[str, Any]] = [
            {"email": "octo@example.com", "primary": True, "verified": True},
            {"email": "other@example.com", "primary": False, "verified": True},
        ]
        self.token_status: int | None = None
        self.refusals: dict[str, int] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server._get(self)

            def do_POST(self) -> None:
                server._post(self)

            def send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def settings(self, prefix: str = "TOKENWARD_") -> dict[str, str]:
        """The app's settings naming this stand-in as GitHub."""
        return {
            f"{prefix}OAUTH_GITHUB_CLIENT_ID": self.client_id,
            f"{prefix}OAUTH_GITHUB_CLIENT_SECRET": self.client_secret,
            f"{prefix}OAUTH_GITHUB_AUTHORIZE_URL": self.base + "/login/oauth/authorize",
            f"{prefix}OAUTH_GITHUB_TOKEN_URL": self.base + "/login/oauth/access_token",
            f"{prefix}OAUTH_GITHUB_API_URL": self.base,
        }

    def start(self) -> GitHubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _refuse(self, handler: Any, reason: str) -> None:
        with self._lock:
            self.refusals[reason] = self.refusals.get(reason, 0) + 1
        handler.send(200, {"error": reason, "error_description": reason.replace("_", " ")})

    # --- serving ------------------------------------------------------------------------------

    def _get(self, handler: Any) -> None:
        url = urllib.parse.urlsplit(handler.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/login/oauth/authorize":
            if query.get("client_id") != self.client_id or "redirect_uri" not in query:
                handler.send(400, {"error": "unknown client"})
                return
            if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                handler.send(400, {"error": "PKCE S256 required"})
                return
            code = secrets.token_hex(10)
            with self._lock:
                self.codes[code] = {
                    "challenge": query["code_challenge"],
                    "redirect_uri": query["redirect_uri"],
                }
            back = {"code": code, "state": query.get("state", "")}
            location = query["redirect_uri"] + "?" + urllib.parse.urlencode(back)
            handler.send(302, {}, {"Location": location})
            return
        token = (handler.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self._lock:
            known = token in self.tokens
        if url.path in ("/user", "/user/emails") and not known:
            handler.send(401, {"message": "Bad credentials"})
        elif url.path == "/user":
            handler.send(200, self.user)
        elif url.path == "/user/emails":
            handler.send(200, self.emails)
        else:
            handler.send(404, {"message": "Not Found"})

    def _post(self, handler: Any) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(handler.rfile.read(length).decode()))
        if handler.path != "/login/oauth/access_token":
            handler.send(404, {"message": "Not Found"})
            return
        if self.token_status is not None:
            handler.send(self.token_status, {"message": "unavailable"})
            return
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            self._refuse(handler, "incorrect_client_credentials")
            return
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)  # a code is used once
        if grant is None:
            self._refuse(handler, "bad_verification_code")
            return
        if form.get("redirect_uri") != grant["redirect_uri"]:
            self._refuse(handler, "redirect_uri_mismatch")
            return
        verifier = form.get("code_verifier")
        if not verifier:
            self._refuse(handler, "missing_code_verifier")
            return
        if s256(verifier) != grant["challenge"]:
            self._refuse(handler, "invalid_code_verifier")
            return
        token = "gho_" + secrets.token_hex(16)
        with self._lock:
            self.tokens.add(token)
        handler.send(200, {"access_token": token, "token_type": "bearer", "scope": "user:email"})
