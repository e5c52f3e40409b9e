"""A real OpenID provider as the peer (issue 24): ``oidc-provider-mock`` (authlib-based, from the
package index) run on loopback as a subprocess. Its ID tokens — obtained through its
authorization-code flow, driven by httpx — verify under AUTH_PROVIDER=oidc through discovery; a
restart of the provider (a new signing key under the same issuer) is a key rotation."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import pytest

if importlib.util.find_spec("oidc_provider_mock") is None:  # run as a subprocess, never imported
    pytest.skip("oidc-provider-mock is not installed (the test extra)", allow_module_level=True)
pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from fastapi import Depends, FastAPI  # noqa: E402

import _oidc_mock  # noqa: E402
import tokenward as tw  # noqa: E402
from _fastapi_support import TestClient  # noqa: E402
from _uvicorn_support import HOST, free_port, serve  # noqa: E402
from tokenward.fastapi import (  # noqa: E402
    Auth,
    AuthSettings,
    CurrentUser,
    require_current_user,
    require_groups,
)
from tokenward.oidc import OidcIssuer, OidcVerifier  # noqa: E402

TESTS = Path(__file__).resolve().parent
CLIENT_ID = "orders-web"
REDIRECT = "http://127.0.0.1:9/callback"  # never followed: the code is read from the redirect
ALICE = {"sub": "alice", "email": "alice@example.com", "groups": ["admin", "staff"]}


def provider(port: int, log: Path) -> contextlib.AbstractContextManager[str]:
    """The mock provider on ``port`` whose user is ALICE; yields its issuer."""
    return _oidc_mock.mock_provider(port, log, "--user-claims", json.dumps(ALICE))


def id_token(issuer: str, sub: str = "alice") -> str:
    """An ID token from the provider's authorization-code flow."""
    query = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid email",
        "state": "s-1",
        "nonce": "n-1",
    }
    with httpx.Client(base_url=issuer, follow_redirects=False) as client:
        consent = client.post(
            "/oauth2/authorize?" + urllib.parse.urlencode(query), data={"sub": sub}
        )
        assert consent.status_code == 302, consent.text
        redirect = urllib.parse.urlsplit(consent.headers["location"])
        code = urllib.parse.parse_qs(redirect.query)["code"][0]
        answer = client.post(
            "/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(CLIENT_ID, "any-secret"),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["id_token"]
        return token


def make_app(issuer: str) -> tuple[Auth, FastAPI]:
    settings = AuthSettings.from_env(
        prefix="TOKENWARD_TEST_ISOLATED_",
        auth_provider="oidc",
        environment="production",
        oidc_issuer=issuer,
        oidc_audience=CLIENT_ID,
    )
    auth = Auth(settings)
    app = FastAPI(lifespan=auth.lifespan)

    @app.get("/me")
    def me(user: Annotated[CurrentUser, Depends(require_current_user)]) -> dict[str, Any]:
        return {"sub": user.sub, "email": user.email, "groups": list(user.groups)}

    @app.get("/admin", dependencies=[Depends(require_groups("admin"))])
    def admin() -> dict[str, bool]:
        return {"ok": True}

    return auth, app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_of_the_provider_verify_under_auth_provider_oidc(tmp_path: Path) -> None:
    with provider(free_port(), tmp_path / "provider.log") as issuer:
        auth, app = make_app(issuer)
        token = id_token(issuer)
        with TestClient(app) as client:
            answer = client.get("/me", headers=bearer(token))
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "sub": "alice",
                "email": "alice@example.com",
                "groups": ["admin", "staff"],
            }
            assert client.get("/admin", headers=bearer(token)).status_code == 200
            bob = id_token(issuer, sub="bob")  # a user the provider made up: no groups
            assert client.get("/admin", headers=bearer(bob)).status_code == 403
            tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
            assert client.get("/me", headers=bearer(tampered)).status_code == 401
        assert auth.oidc is not None
        source = auth.oidc.key_sets[0]
        assert source.url == issuer + "/.well-known/openid-configuration"
        assert getattr(source, "jwks_uri", None) == issuer + "/jwks"


def test_a_provider_down_at_start_gives_503_then_its_tokens_verify(tmp_path: Path) -> None:
    port = free_port()
    issuer = f"http://{HOST}:{port}"
    auth, app = make_app(issuer)
    with TestClient(app) as client:  # starts although discovery cannot be read
        # A token of the right shape from nowhere: whatever it is, the keys cannot be had.
        with provider(port, tmp_path / "provider.log"):
            token = id_token(issuer)
        answer = client.get("/me", headers=bearer(token))
        assert answer.status_code == 503, answer.text
        with provider(port, tmp_path / "provider.log"):
            assert auth.oidc is not None
            auth.oidc.prefetch()  # stands for the cooldown running out
            fresh = id_token(issuer)
            assert client.get("/me", headers=bearer(fresh)).status_code == 200


def test_a_restarted_provider_rotates_its_key(tmp_path: Path) -> None:
    """The provider signs without a ``kid`` (so no unknown kid can ask for a refresh): its new
    key is picked up when the cached set's ``ttl`` is over. The kid-driven refresh of a rotation
    is tested against tests/oidc_server.py (test_oidc.py)."""
    port = free_port()
    log = tmp_path / "provider.log"
    issuer = f"http://{HOST}:{port}"
    oidc = OidcVerifier(
        issuers=[OidcIssuer(issuer=issuer, audience=(CLIENT_ID,))], ttl=0.01, cooldown=0
    )
    with provider(port, log):
        before = id_token(issuer)
        assert oidc.verify(before)["sub"] == "alice"
    with provider(port, log):  # a new process: a new signing key under the same issuer
        after = id_token(issuer)
        assert oidc.verify(after)["sub"] == "alice"
        with pytest.raises(tw.InvalidTokenError):  # the old key is no longer published
            oidc.verify(before)
    source = oidc.key_sets[0]
    assert source.generation >= 2
    assert getattr(source, "jwks_uri", None) == issuer + "/jwks"


def test_an_issuer_that_differs_from_the_document_by_a_slash_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The provider's document names ``http://127.0.0.1:PORT``; configured with a trailing
    slash, the issuer is another string: the document is refused at start (logged), no key is
    taken from it, and the provider's tokens (whose ``iss`` has no slash) name an issuer that
    is not configured: 401 with no fetch. (A token naming the configured issuer while the
    document names another gets 503: test_oidc.py.)"""
    with provider(free_port(), tmp_path / "provider.log") as issuer:
        auth, app = make_app(issuer + "/")
        token = id_token(issuer)
        with caplog.at_level(logging.ERROR, logger="tokenward.jwks"):
            with TestClient(app) as client:
                answer = client.get("/me", headers=bearer(token))
        assert answer.status_code == 401, answer.text
        assert f"names the issuer '{issuer}', not the configured '{issuer}/'" in caplog.text
        assert auth.oidc is not None
        source = auth.oidc.key_sets[0]
        assert getattr(source, "jwks_uri", "x") is None and source.keys is None


def test_a_uvicorn_app_under_auth_provider_oidc(tmp_path: Path) -> None:
    """A real server process: with the provider down at start it starts and answers 503 (never
    401); with the provider up, the provider's tokens are accepted over HTTP."""
    port = free_port()
    issuer = f"http://{HOST}:{port}"
    log = tmp_path / "provider.log"
    settings = {
        "TOKENWARD_AUTH_PROVIDER": "oidc",
        "TOKENWARD_ENVIRONMENT": "production",
        "TOKENWARD_OIDC_ISSUER": issuer,
        "TOKENWARD_OIDC_AUDIENCE": CLIENT_ID,
    }
    with provider(port, log):
        early = id_token(issuer)
    with serve(
        "oidc_app:app", settings, workdir=tmp_path, app_dir=TESTS, ready_path="/health"
    ) as app:
        answer = httpx.get(app.base_url + "/whoami", headers=bearer(early))
        assert answer.status_code == 503, answer.text
        assert answer.headers.get("retry-after")
    with provider(port, log):
        token = id_token(issuer)
        with serve(
            "oidc_app:app", settings, workdir=tmp_path, app_dir=TESTS, ready_path="/health"
        ) as app:
            answer = httpx.get(app.base_url + "/whoami", headers=bearer(token))
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "sub": "alice",
                "groups": ["admin", "staff"],
                "email": "alice@example.com",
            }
            assert httpx.get(app.base_url + "/admin", headers=bearer(token)).status_code == 200
            assert httpx.get(app.base_url + "/whoami").status_code == 401
