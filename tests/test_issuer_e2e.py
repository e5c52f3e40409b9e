"""The issuer/verifier pattern with two real uvicorn processes on loopback ports.

Service A (tests/issuer_service_a.py) is the custom provider with TOKEN_ALGORITHM=ES256 and
field encryption: it issues access tokens and publishes its keys at /.well-known/jwks.json.
Service B (tests/issuer_service_b.py) verifies them with a RemoteJWKS pointed at A and the
shared field-encryption secret. A rotates its keys; tokens signed before and after both verify
at B, and B fetches A's keys no more often than its cooldown allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import tokenward as tw
from _uvicorn_support import serve

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

TESTS = Path(__file__).resolve().parent
SECRET = "issuer-e2e-secret-0123456789-abcdefghijklmnop"
FIELD_SECRET = "issuer-e2e-field-secret-0123456789-abcdefgh"
ISSUER = "https://service-a.test"
EMAIL = "debug@example.com"
PASSWORD = "vega-debug-password"
COOLDOWN = 2.0  # B's RemoteJWKS cooldown, seconds


# the settings of service A and B: none of this process's goes to either
CLEAN = ("TOKENWARD_", "SERVICE_B_", "ISSUER_")


@dataclass
class Service:
    url: str
    cwd: Path
    log: Path


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    a_dir = tmp_path_factory.mktemp("service-a")
    b_dir = tmp_path_factory.mktemp("service-b")
    a_settings = {
        "TOKENWARD_AUTH_SECRET": SECRET,
        "TOKENWARD_TOKEN_ALGORITHM": "ES256",
        "TOKENWARD_TOKEN_ISSUER": ISSUER,
        "TOKENWARD_FIELD_ENCRYPTION_SECRET": FIELD_SECRET,
        "TOKENWARD_STORE_URL": f"sqlite:///{a_dir / 'a.db'}",
    }
    with serve(
        "issuer_service_a:app", a_settings, workdir=a_dir, app_dir=TESTS, drop=CLEAN
    ) as a_server:
        a = Service(a_server.base_url, a_dir, a_server.log)
        b_settings = {
            "ISSUER_JWKS_URL": f"{a.url}/.well-known/jwks.json",
            "ISSUER_NAME": ISSUER,
            "ISSUER_FIELD_SECRET": FIELD_SECRET,
            "ISSUER_JWKS_COOLDOWN": str(COOLDOWN),
            "SERVICE_B_AUTH_SECRET": SECRET[::-1],
        }
        with serve(
            "issuer_service_b:app", b_settings, workdir=b_dir, app_dir=TESTS, drop=CLEAN
        ) as b_server:
            yield a, Service(b_server.base_url, b_dir, b_server.log)


def _login(a: httpx.Client) -> str:
    response = a.post("/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hits(a: httpx.Client) -> int:
    hits: int = a.get("/test/jwks-hits").json()["hits"]
    return hits


def _whoami(b: httpx.Client, token: str) -> httpx.Response:
    return b.get("/whoami", headers=_bearer(token))


def test_issue_at_a_verify_at_b_across_a_rotation(services: tuple[Service, Service]) -> None:
    a_service, b_service = services
    with (
        httpx.Client(base_url=a_service.url, timeout=10) as a,
        httpx.Client(base_url=b_service.url, timeout=10) as b,
    ):
        # A signs with its development key, kept under .tokenward/ in its working directory.
        key_file = a_service.cwd / ".tokenward" / "signing-keys.json"
        assert key_file.stat().st_mode & 0o777 == 0o600
        first = _login(a)
        header = tw.unverified_header(first)
        assert header["alg"] == "ES256"
        assert header["typ"] == "at+jwt"
        first_kid = header["kid"]
        published = a.get("/.well-known/jwks.json").json()
        assert [k["kid"] for k in published["keys"]] == [first_kid]
        assert all("d" not in k for k in published["keys"])
        # The registered claims stay in clear; the e-mail, groups, scope and token_use do not.
        raw = tw.unverified_claims(first)
        assert raw["iss"] == ISSUER
        assert "email" not in raw and "token_use" not in raw
        assert EMAIL not in str(raw)
        assert a.get("/v1/auth/me", headers=_bearer(first)).json()["email"] == EMAIL

        base = _hits(a)  # our own GET above
        response = _whoami(b, first)
        fetched_at = time.monotonic()
        assert response.status_code == 200, response.text
        assert response.json() == {
            "sub": raw["sub"],
            "email": EMAIL,
            "groups": ["root", "operator"],
            "token_use": "access",
        }
        assert _hits(a) == base + 1
        for _ in range(20):  # the keys are cached at B: no more requests to A
            assert _whoami(b, first).status_code == 200
        assert _hits(a) == base + 1

        # A rotates: the new key signs; the old one stays published while its tokens live.
        rotated = a.post("/admin/rotate-keys", headers=_bearer(first))
        assert rotated.status_code == 200, rotated.text
        new_kid = rotated.json()["kid"]
        assert new_kid != first_kid
        second = _login(a)
        assert tw.unverified_header(second)["kid"] == new_kid
        assert [k["kid"] for k in a.get("/.well-known/jwks.json").json()["keys"]] == [
            new_kid,
            first_kid,
        ]
        base = _hits(a)
        # B meets the new kid: one fetch, once its cooldown since the last fetch has passed.
        time.sleep(max(0.0, COOLDOWN + 0.2 - (time.monotonic() - fetched_at)))
        response = _whoami(b, second)
        assert response.status_code == 200, response.text
        assert response.json()["email"] == EMAIL
        assert _whoami(b, first).status_code == 200
        assert _hits(a) == base + 1

        # Tokens naming keys A never had: refused, and B does not hammer A for them.
        base = _hits(a)
        started = time.monotonic()
        stranger = tw.KeyRing.generate("ES256")
        now = int(time.time())
        for i in range(30):
            forged = stranger.sign(
                {"iss": ISSUER, "sub": raw["sub"], "iat": now, "exp": now + 300, "jti": f"f{i}"},
                {"typ": "at+jwt"},
            )
            assert _whoami(b, forged).status_code == 401
        elapsed = time.monotonic() - started
        assert _hits(a) - base <= 1 + int(elapsed / COOLDOWN)
        fetches: dict[str, Any] = b.get("/test/fetches").json()
        assert fetches["generation"] >= 2


def test_the_jwks_endpoint_over_http(services: tuple[Service, Service]) -> None:
    a_service, _ = services
    with httpx.Client(base_url=a_service.url, timeout=10) as a:
        etag = a.get("/.well-known/jwks.json").headers["etag"]
        again = a.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        cache = a.get("/.well-known/jwks.json").headers["cache-control"]
        assert cache == "public, max-age=3600, stale-while-revalidate=86400"
