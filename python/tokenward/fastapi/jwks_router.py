"""The JWKS endpoint of an issuer: ``build_jwks_router(ring)`` serves a
:class:`~tokenward.KeyRing`'s public keys at ``/.well-known/jwks.json``.

Each answer is the ring's set as it is now (a rotation or a staged next key shows at once), with
an ``ETag`` (a hash of the body) and ``Cache-Control``; a request whose ``If-None-Match`` names
the current ETag gets ``304 Not Modified`` without a body. An HMAC ring has nothing to publish:
building a router for one is a :class:`~tokenward.ConfigurationError`, never an empty set served
silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading

from fastapi import APIRouter, Request, Response

from tokenward.exceptions import ConfigurationError
from tokenward.fastapi.router import StrictRoute
from tokenward.keyring import KeyRing

__all__ = ["DEFAULT_CACHE_CONTROL", "DEFAULT_PATH", "build_jwks_router"]

DEFAULT_PATH = "/.well-known/jwks.json"
DEFAULT_CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


class _Document:
    """The serialised set and its ETag, recomputed only when the set changes."""

    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._lock = threading.Lock()
        self._last: tuple[str, bytes, str] | None = None  # (kids, body, etag)

    def current(self) -> tuple[bytes, str]:
        doc = self._ring.public_jwks()
        kids = ",".join(k.get("kid", "") for k in doc["keys"])
        with self._lock:
            if self._last is not None and self._last[0] == kids:
                return self._last[1], self._last[2]
        body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(body).digest()[:18]
        etag = '"' + base64.urlsafe_b64encode(digest).decode().rstrip("=") + '"'
        with self._lock:
            self._last = (kids, body, etag)
        return body, etag


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against each listed tag, or ``*``."""
    if not if_none_match:
        return False
    for item in if_none_match.split(","):
        tag = item.strip()
        if tag == "*":
            return True
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == etag:
            return True
    return False


def build_jwks_router(
    ring: KeyRing,
    *,
    path: str = DEFAULT_PATH,
    cache_control: str = DEFAULT_CACHE_CONTROL,
) -> APIRouter:
    """An APIRouter serving ``ring.public_jwks()`` at ``path`` with an ETag and
    ``Cache-Control: cache_control``. ConfigurationError for an HMAC ring (nothing to publish)."""
    if not isinstance(ring, KeyRing):
        raise TypeError("build_jwks_router needs a tokenward.KeyRing")
    if not ring.publishes:
        raise ConfigurationError(
            f"the key ring signs with {ring.algorithm}, a shared secret: there is no public key "
            "to publish; use an asymmetric algorithm (ES256, EdDSA, RS256, PS256) for a JWKS"
        )
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(f"path must start with '/', not {path!r}")
    if not isinstance(cache_control, str) or any(c in cache_control for c in "\r\n"):
        raise ConfigurationError("cache_control must be a single-line header value")
    document = _Document(ring)
    document.current()  # fail at build time, not on the first request
    router = APIRouter(route_class=StrictRoute)

    @router.get(
        path,
        include_in_schema=True,
        summary="The issuer's public signing keys (JWK set)",
        response_class=Response,
        responses={200: {"content": {"application/json": {}}}, 304: {"description": "unchanged"}},
    )
    def jwks(request: Request) -> Response:
        body, etag = document.current()
        headers = {"ETag": etag, "Cache-Control": cache_control}
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        return Response(content=body, media_type="application/json", headers=headers)

    return router
