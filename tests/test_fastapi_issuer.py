"""TOKEN_ALGORITHM: the custom provider signing through a key ring, the development key under
.tokenward/, SIGNING_KEY_FILE, auth.jwks_router, auth.key_ring and auth.rotate_keys()."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

import tokenward as tw
from _fastapi_support import SECRET, Clock, TestClient, bearer, login, make_app
from tokenward.fastapi import Auth, AuthSettings

PREFIX = "TOKENWARD_TEST_ISOLATED_"
ASYMMETRIC = ["ES256", "EdDSA", "RS256", "PS256"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in an empty working directory: the development key goes to ./.tokenward/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def settings(**values: Any) -> AuthSettings:
    base: dict[str, Any] = {"auth_secret": SECRET}
    base.update(values)
    return AuthSettings.from_env(prefix=PREFIX, **base)


def dev_key() -> Path:
    return Path(".tokenward") / "signing-keys.json"


# --- HS256, the default ------------------------------------------------------------------------


def test_hs256_is_the_default_and_publishes_nothing() -> None:
    app, auth = make_app()
    assert auth.settings.token_algorithm == "HS256"
    assert auth.key_ring is None
    with pytest.raises(tw.ConfigurationError, match=r"HS256.*no public key to publish"):
        app.include_router(auth.jwks_router)
    with pytest.raises(tw.ConfigurationError, match="no key ring to rotate"):
        auth.rotate_keys()
    assert not dev_key().parent.exists()
    with TestClient(app) as client:
        token = login(client)["access_token"]
    header = tw.unverified_header(token)
    assert header == {"alg": "HS256", "typ": "at+jwt"}


# --- asymmetric algorithms ---------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ASYMMETRIC)
def test_each_algorithm_signs_and_verifies(algorithm: str) -> None:
    clock = Clock()
    app, auth = make_app(clock=clock, token_algorithm=algorithm)
    ring = auth.key_ring
    assert ring is not None and ring.algorithm == algorithm
    with TestClient(app) as client:
        token = login(client)["access_token"]
        header = tw.unverified_header(token)
        assert header == {"alg": algorithm, "typ": "at+jwt", "kid": ring.current_kid}
        claims = tw.unverified_claims(token)
        assert set(claims) == {
            "iss",
            "sub",
            "email",
            "cognito:groups",
            "scope",
            "iat",
            "exp",
            "jti",
            "token_use",
            "sid",
        }
        assert claims["iss"] == "tokenward"
        assert claims["token_use"] == "access"
        assert claims["cognito:groups"] == ["root", "operator"]
        assert claims["exp"] - claims["iat"] == 900
        me = client.get("/v1/auth/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "debug@example.com"
        assert client.get("/reports", headers=bearer(token)).json() == {"scopes": ["reports:read"]}
        # an access token also verifies outside the app, with the published keys only
        public = tw.JWKSet.from_json(json.dumps(ring.public_jwks()))
        outside = tw.Verifier(public, algorithms=[algorithm], issuer="tokenward", typ="at+jwt")
        assert outside.verify(token, now=clock())["sub"] == claims["sub"]
        clock.advance(901)
        assert client.get("/sync", headers=bearer(token)).status_code == 401


def test_the_checks_of_an_access_token_still_apply() -> None:
    clock = Clock()
    app, auth = make_app(clock=clock, token_algorithm="ES256")
    ring = auth.key_ring
    assert ring is not None
    now = int(clock())
    good: dict[str, Any] = {
        "iss": "tokenward",
        "sub": "someone",
        "iat": now,
        "exp": now + 60,
        "jti": "j1",
        "token_use": "access",
    }
    bad = [
        ring.sign(good),  # typ JWT, not at+jwt
        ring.sign({**good, "token_use": "refresh"}, {"typ": "at+jwt"}),
        ring.sign({**good, "iss": "elsewhere"}, {"typ": "at+jwt"}),
        ring.sign({k: v for k, v in good.items() if k != "jti"}, {"typ": "at+jwt"}),
        ring.sign({k: v for k, v in good.items() if k != "iat"}, {"typ": "at+jwt"}),
        ring.sign({**good, "sub": ""}, {"typ": "at+jwt"}),
        ring.sign({**good, "iat": now + 3600, "exp": now + 7200}, {"typ": "at+jwt"}),
        ring.sign({**good, "cognito:groups": "root"}, {"typ": "at+jwt"}),
        ring.sign({**good, "exp": now - 1}, {"typ": "at+jwt"}),
        tw.KeyRing.generate("ES256").sign(good, {"typ": "at+jwt"}),  # a key A never had
    ]
    with TestClient(app) as client:
        assert (
            client.get("/sync", headers=bearer(ring.sign(good, {"typ": "at+jwt"}))).json()["sub"]
            == "someone"
        )
        for token in bad:
            response = client.get("/sync", headers=bearer(token))
            assert response.status_code == 401, (tw.unverified_claims(token), response.text)


def test_the_verified_token_cache_applies_to_ring_tokens() -> None:
    _, auth = make_app(token_algorithm="ES256", token_cache_size=7)
    assert auth.tokens is not None
    verifier = getattr(auth.tokens.access, "verifier", None)
    assert isinstance(verifier, tw.Verifier)
    info = verifier.cache_info()
    assert info is not None and info["capacity"] == 7
    _, off = make_app(token_algorithm="ES256", token_cache_size=0)
    assert off.tokens is not None
    assert getattr(off.tokens.access, "verifier").cache_info() is None  # noqa: B009


def test_refresh_tokens_stay_hmac_and_rotate() -> None:
    app, _ = make_app(token_algorithm="EdDSA")
    with TestClient(app) as client:
        pair = login(client)
        assert pair["refresh_token"].startswith("twr_")
        again = client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert again.status_code == 200
        token = again.json()["access_token"]
        assert tw.unverified_header(token)["alg"] == "EdDSA"
        assert client.get("/sync", headers=bearer(token)).status_code == 200


# --- the development key -----------------------------------------------------------------------


def test_the_development_key_survives_a_restart() -> None:
    app, first = make_app(token_algorithm="ES256")
    path = dev_key()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0
    with TestClient(app) as client:
        token = login(client)["access_token"]
    app2, second = make_app(token_algorithm="ES256")
    assert second.key_ring is not None and first.key_ring is not None
    assert second.key_ring.current_kid == first.key_ring.current_kid
    with TestClient(app2) as client:
        assert client.get("/sync", headers=bearer(token)).status_code == 200


def test_a_new_development_key_when_the_algorithm_changes() -> None:
    _, es = make_app(token_algorithm="ES256")
    _, ed = make_app(token_algorithm="EdDSA")
    assert es.key_ring is not None and ed.key_ring is not None
    assert ed.key_ring.algorithm == "EdDSA"
    assert tw.KeyRing.load(dev_key()).algorithm == "EdDSA"
    assert stat.S_IMODE(dev_key().stat().st_mode) == 0o600


def test_outside_development_a_missing_key_refuses_to_start() -> None:
    values: dict[str, Any] = {
        "environment": "production",
        "allow_custom_auth_in_production": True,
        "token_algorithm": "ES256",
    }
    with pytest.raises(tw.ConfigurationError, match=f"{PREFIX}SIGNING_KEY_FILE is not set"):
        Auth(settings(**values))
    assert not dev_key().parent.exists()


# --- SIGNING_KEY_FILE --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["keys.json", "keys.pem"])
def test_signing_key_file_jwks_or_pem(tmp_path: Path, name: str) -> None:
    ring = tw.KeyRing.generate("ES256")
    path = tmp_path / name
    ring.save(path)
    app, auth = make_app(token_algorithm="ES256", signing_key_file=str(path))
    assert auth.key_ring is not None
    assert auth.key_ring.current_kid == ring.current_kid
    assert not dev_key().parent.exists()
    with TestClient(app) as client:
        token = login(client)["access_token"]
    assert tw.unverified_header(token)["kid"] == ring.current_kid
    assert ring.verifier(issuer="tokenward").verify(token)["token_use"] == "access"


def test_a_bad_signing_key_file_names_the_variable(tmp_path: Path) -> None:
    var = f"{PREFIX}SIGNING_KEY_FILE"
    with pytest.raises(tw.ConfigurationError, match=f"{var}: cannot read"):
        make_app(token_algorithm="ES256", signing_key_file=str(tmp_path / "missing.json"))
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(tw.ConfigurationError, match=rf"{var}: .*no usable ES256 keys"):
        make_app(token_algorithm="ES256", signing_key_file=str(garbage))
    other = tmp_path / "ed.json"
    tw.KeyRing.generate("EdDSA").save(other)
    with pytest.raises(tw.ConfigurationError, match=rf"{var}: .*EdDSA keys.*ES256"):
        make_app(token_algorithm="ES256", signing_key_file=str(other))


# --- the JWKS endpoint and rotation ------------------------------------------------------------


def test_jwks_router_serves_the_ring_with_etag_and_cache_control() -> None:
    app, auth = make_app(token_algorithm="ES256")
    app.include_router(auth.jwks_router)
    assert auth.jwks_router is auth.jwks_router  # built once
    ring = auth.key_ring
    assert ring is not None
    with TestClient(app) as client:
        response = client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        assert response.json() == ring.public_jwks()
        assert response.headers["cache-control"] == (
            "public, max-age=3600, stale-while-revalidate=86400"
        )
        etag = response.headers["etag"]
        unchanged = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.content == b""


def test_jwks_path_and_cache_control_settings() -> None:
    app, auth = make_app(
        token_algorithm="EdDSA", jwks_path="/certs", jwks_cache_control="public, max-age=60"
    )
    app.include_router(auth.jwks_router)
    with TestClient(app) as client:
        response = client.get("/certs")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        assert client.get("/.well-known/jwks.json").status_code == 404


@pytest.mark.parametrize("bad", [{"jwks_path": "certs"}, {"jwks_cache_control": "a\r\nb: c"}])
def test_bad_jwks_settings_refuse_to_start(bad: dict[str, Any]) -> None:
    with pytest.raises(tw.ConfigurationError, match="JWKS_"):
        Auth(settings(token_algorithm="ES256", **bad))


def test_rotate_keys_keeps_old_tokens_and_saves_the_ring() -> None:
    app, auth = make_app(token_algorithm="ES256")
    app.include_router(auth.jwks_router)
    ring = auth.key_ring
    assert ring is not None
    old_kid = ring.current_kid
    with TestClient(app) as client:
        old = login(client)["access_token"]
        etag = client.get("/.well-known/jwks.json").headers["etag"]
        new_kid = auth.rotate_keys()
        assert new_kid != old_kid and ring.current_kid == new_kid
        new = login(client)["access_token"]
        assert tw.unverified_header(new)["kid"] == new_kid
        for token in (old, new):
            assert client.get("/sync", headers=bearer(token)).status_code == 200
        after = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
        assert after.status_code == 200
        assert [k["kid"] for k in after.json()["keys"]] == [new_kid, old_kid]
    saved = tw.KeyRing.load(dev_key())
    assert saved.current_kid == new_kid
    assert saved.kids == [new_kid, old_kid]


def test_rotate_keys_does_not_rewrite_a_pem_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.pem"
    tw.KeyRing.generate("ES256").save(path)
    before = path.read_bytes()
    _, auth = make_app(token_algorithm="ES256", signing_key_file=str(path))
    auth.rotate_keys()
    assert path.read_bytes() == before


# --- field encryption --------------------------------------------------------------------------


def test_field_encryption_hides_the_private_claims() -> None:
    field_secret = "field-secret-0123456789-abcdefghijklmnopqrstuv"
    app, auth = make_app(token_algorithm="ES256", field_encryption_secret=field_secret)
    with TestClient(app) as client:
        token = login(client)["access_token"]
        raw = tw.unverified_claims(token)
        assert {"iss", "sub", "iat", "exp", "jti"} <= set(raw)
        assert not {"email", "scope", "cognito:groups", "token_use", "sid"} & set(raw)
        assert "debug@example.com" not in json.dumps(raw)
        me = client.get("/v1/auth/me", headers=bearer(token)).json()
        assert me["email"] == "debug@example.com"
        assert me["groups"] == ["root", "operator"]
    ring = auth.key_ring
    assert ring is not None
    reader = ring.verifier(issuer="tokenward", field_cipher=tw.FieldCipher(field_secret))
    assert reader.verify(token)["email"] == "debug@example.com"


def test_field_encryption_settings_are_checked() -> None:
    with pytest.raises(tw.ConfigurationError, match="FIELD_ENCRYPTION_SECRET needs an asym"):
        Auth(settings(field_encryption_secret="x" * 40))
    with pytest.raises(tw.ConfigurationError, match="FIELD_ENCRYPTION_SECRET is 10 bytes"):
        Auth(settings(token_algorithm="ES256", field_encryption_secret="x" * 10))
