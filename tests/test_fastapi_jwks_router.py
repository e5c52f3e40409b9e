"""tokenward.fastapi.jwks_router: the issuer's JWKS endpoint, through FastAPI's TestClient."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI

import tokenward as tw
from _fastapi_support import TestClient
from tokenward.fastapi.jwks_router import build_jwks_router


def client_for(ring: tw.KeyRing, **options: str) -> TestClient:
    app = FastAPI()
    app.include_router(build_jwks_router(ring, **options))
    return TestClient(app)


def test_serves_the_public_keys_with_an_etag() -> None:
    ring = tw.KeyRing.generate("ES256", with_next=True)
    client = client_for(ring)
    r = client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    doc = r.json()
    assert doc == ring.public_jwks()
    assert all("d" not in k for k in doc["keys"])
    # what it serves verifies the ring's tokens
    token = ring.sign({"sub": "u1", "exp": int(time.time()) + 60})
    assert tw.decode(token, tw.JWKSet.from_json(r.content), algorithms=["ES256"])["sub"] == "u1"


def test_a_matching_if_none_match_gets_304() -> None:
    client = client_for(tw.KeyRing.generate("EdDSA"))
    etag = client.get("/.well-known/jwks.json").headers["etag"]
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = client.get("/.well-known/jwks.json", headers={"If-None-Match": value})
        assert r.status_code == 304, value
        assert r.content == b""
        assert r.headers["etag"] == etag
    r = client.get("/.well-known/jwks.json", headers={"If-None-Match": '"stale"'})
    assert r.status_code == 200


def test_a_rotation_changes_the_document_and_the_etag() -> None:
    ring = tw.KeyRing.generate("RS256")
    client = client_for(ring)
    first = client.get("/.well-known/jwks.json")
    ring.rotate()
    r = client.get("/.well-known/jwks.json", headers={"If-None-Match": first.headers["etag"]})
    assert r.status_code == 200
    assert r.headers["etag"] != first.headers["etag"]
    assert [k["kid"] for k in r.json()["keys"]] == ring.kids
    assert len(r.json()["keys"]) == 2  # the previous key is still published


def test_path_and_cache_control_are_options() -> None:
    client = client_for(
        tw.KeyRing.generate("ES256"), path="/keys", cache_control="public, max-age=60"
    )
    r = client.get("/keys")
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=60"
    assert client.get("/.well-known/jwks.json").status_code == 404


def test_an_hmac_ring_is_refused_at_build_time() -> None:
    with pytest.raises(tw.ConfigurationError, match="no public key"):
        build_jwks_router(tw.KeyRing.generate("HS256"))


@pytest.mark.parametrize(
    "options", [{"path": "jwks.json"}, {"cache_control": "public\r\nX-Injected: 1"}]
)
def test_options_are_checked(options: dict[str, str]) -> None:
    with pytest.raises(tw.ConfigurationError):
        build_jwks_router(tw.KeyRing.generate("ES256"), **options)


def test_only_a_key_ring() -> None:
    with pytest.raises(TypeError):
        build_jwks_router(tw.JWKSet([]))  # type: ignore[arg-type]
