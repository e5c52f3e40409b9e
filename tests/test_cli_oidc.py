"""``tokenward verify TOKEN --issuer URL``: the keys through OpenID Connect discovery (issue 24),
against the loopback issuer of tests/oidc_server.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oidc_server import DISCOVERY, IssuerServer
from test_cli import run

pytest.importorskip("httpx")


@pytest.fixture
def issuer() -> Iterator[IssuerServer]:
    server = IssuerServer(path="/realms/cli").start()
    try:
        yield server
    finally:
        server.stop()


def test_verify_with_the_issuer_alone_uses_discovery(issuer: IssuerServer) -> None:
    token = issuer.sign({"aud": "api"})
    result = run("verify", token, "--issuer", issuer.issuer, "--audience", "api")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid:")
    assert issuer.count("/realms/cli" + DISCOVERY) == 1 and issuer.count("/jwks") == 1
    wrong = run("verify", issuer.sign({"aud": "other"}), "--issuer", issuer.issuer)
    assert wrong.returncode == 1


def test_discovery_that_fails_is_a_usage_error(issuer: IssuerServer) -> None:
    issuer.document_issuer = "https://elsewhere.example"
    result = run("verify", issuer.sign({}), "--issuer", issuer.issuer)
    assert result.returncode == 2
    assert "names the issuer" in result.stderr
    assert issuer.count("/jwks") == 0


def test_discovery_needs_exactly_one_issuer(issuer: IssuerServer) -> None:
    result = run("verify", "a.b.c", "--issuer", issuer.issuer, "--issuer", "https://b.example")
    assert result.returncode == 2 and "exactly one --issuer" in result.stderr
    assert run("verify", "a.b.c").returncode == 2


def test_settings_check_shows_the_oidc_issuers() -> None:
    env = {
        "TOKENWARD_AUTH_PROVIDER": "oidc",
        "TOKENWARD_ENVIRONMENT": "production",
        "TOKENWARD_OIDC_ISSUER": "https://sso.example.com/realms/shop",
        "TOKENWARD_OIDC_AUDIENCE": "orders-api",
        "TOKENWARD_OIDC_PRESET": "keycloak",
    }
    result = run("settings", "check", env=env)
    assert result.returncode == 0, result.stderr
    assert "TOKENWARD_OIDC_ISSUERS = https://sso.example.com/realms/shop\n" in result.stdout
    assert "TOKENWARD_OIDC_PRESET = keycloak" in result.stdout
    missing = run("settings", "check", env={**env, "TOKENWARD_OIDC_AUDIENCE": ""})
    assert missing.returncode == 2 and "OIDC_AUDIENCE" in missing.stderr
