"""CognitoVerifier's issuers: both AWS forms, multi-region replicas, and an explicit issuer for
emulators. Real tokens from moto where moto can make them; hand-made tokens signed by moto's key
(served by moto's real JWKS endpoint) or by our own key (served by tests/jwks_server.py) for the
forms moto does not issue."""

from __future__ import annotations

import asyncio
import gzip
import importlib.resources
import time
from collections.abc import Iterator
from typing import Any

import pytest

import tokenward as tw
from jwks_server import JWKSServer
from moto_cognito import REGION, Pool, make_pool, moto_idp

POOL_ID = "eu-west-1_AbC123"
CLIENT = "4f1example0client"


def claims(iss: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {
        "sub": "8b2a-alice",
        "iss": iss,
        "client_id": CLIENT,
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
    }
    out.update(changes)
    return out


@pytest.fixture(scope="module")
def key() -> tw.JWK:
    return tw.JWK.generate("RS256")


@pytest.fixture
def server(key: tw.JWK) -> Iterator[JWKSServer]:
    srv = JWKSServer().start()
    srv.keys = [key]
    try:
        yield srv
    finally:
        srv.stop()


# --- the issuers a pool accepts -------------------------------------------------------------


def test_a_pool_accepts_both_aws_forms() -> None:
    pool = tw.CognitoPool(POOL_ID, (CLIENT,))
    assert pool.issuers == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
        "https://issuer.cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
    )
    assert pool.issuer == pool.issuers[0]


def test_replica_regions_add_their_issuers() -> None:
    pool = tw.CognitoPool(POOL_ID, (CLIENT,), replica_regions=("us-east-1", "ap-south-1"))
    assert "https://issuer.cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123" in pool.issuers
    assert "https://issuer.cognito-idp.ap-south-1.amazonaws.com/eu-west-1_AbC123" in pool.issuers
    assert len(pool.issuers) == 6
    with pytest.raises(tw.ConfigurationError):
        tw.CognitoPool(POOL_ID, (CLIENT,), replica_regions=("Mars",))


def test_each_issuer_fetches_its_own_keys() -> None:
    v = tw.CognitoVerifier("eu-west-1", POOL_ID, client_id=CLIENT, replica_regions=["us-east-1"])
    urls = [k.url for k in v.key_sets]
    assert (
        urls[0]
        == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
    )
    assert (
        "https://issuer.cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json"
        in urls
    )
    assert len(urls) == 4
    assert v.issuers == [v.accepted_issuers[0]]
    assert len(v.accepted_issuers) == 4


def test_an_explicit_issuer_replaces_the_aws_ones() -> None:
    pool = tw.CognitoPool(
        POOL_ID, (CLIENT,), issuer_url="http://cognito-local:9229/eu-west-1_AbC123"
    )
    assert pool.issuers == ("http://cognito-local:9229/eu-west-1_AbC123",)
    assert (
        pool.default_jwks_url == "http://cognito-local:9229/eu-west-1_AbC123/.well-known/jwks.json"
    )
    for bad in ("not a url", "ftp://x/y"):
        with pytest.raises(tw.ConfigurationError):
            tw.CognitoPool(POOL_ID, (CLIENT,), issuer_url=bad)
    with pytest.raises(tw.ConfigurationError):
        tw.CognitoPool(POOL_ID, (CLIENT,), issuer_url="https://x/y", replica_regions=("us-east-1",))
    with pytest.raises(tw.ConfigurationError):
        tw.CognitoVerifier(issuer="https://x/y")  # no pool


# --- tokens of each form --------------------------------------------------------------------


def test_tokens_of_each_form_and_replica_verify(server: JWKSServer, key: tw.JWK) -> None:
    v = tw.CognitoVerifier(
        "eu-west-1", POOL_ID, client_id=CLIENT, replica_regions=["us-east-1"], jwks_url=server.url
    )
    for iss in v.accepted_issuers:
        token = tw.encode(claims(iss), key)
        assert v.verify(token)["iss"] == iss
        assert asyncio.run(v.verify_async(token))["iss"] == iss
    assert server.requests == 1  # one jwks_url: one key set for every issuer
    for iss in (
        "https://issuer.cognito-idp.ap-south-1.amazonaws.com/eu-west-1_AbC123",  # not a replica
        "https://issuer.cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/",
        "https://evil.example/eu-west-1_AbC123",
    ):
        with pytest.raises(tw.InvalidIssuerError):
            v.verify(tw.encode(claims(iss), key))


def test_an_emulator_issuer(server: JWKSServer, key: tw.JWK) -> None:
    iss = "http://localhost:9229/eu-west-1_AbC123"
    v = tw.CognitoVerifier("eu-west-1", POOL_ID, client_id=CLIENT, issuer=iss, jwks_url=server.url)
    assert v.accepted_issuers == [iss]
    assert v.verify(tw.encode(claims(iss), key))["sub"] == "8b2a-alice"
    aws = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
    with pytest.raises(tw.InvalidIssuerError):
        v.verify(tw.encode(claims(aws), key))
    # the Cognito rules still hold for it
    with pytest.raises(tw.InvalidAudienceError):
        v.verify(tw.encode(claims(iss, client_id="another-app"), key))


def test_gateway_claims_of_a_replica(server: JWKSServer) -> None:
    v = tw.CognitoVerifier(
        "eu-west-1",
        POOL_ID,
        client_id=CLIENT,
        replica_regions=["us-east-1"],
        jwks_url=server.url,
        trust_gateway=True,
    )
    iss = "https://issuer.cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123"
    assert v.claims_from_gateway(claims(iss))["iss"] == iss
    with pytest.raises(tw.InvalidIssuerError):
        v.claims_from_gateway(claims("https://issuer.cognito-idp.ap-south-1.amazonaws.com/x_y"))


def test_a_missing_iss_is_a_missing_claim(server: JWKSServer, key: tw.JWK) -> None:
    v = tw.CognitoVerifier("eu-west-1", POOL_ID, client_id=CLIENT, jwks_url=server.url)
    body = claims("x")
    del body["iss"]
    with pytest.raises(tw.MissingClaimError):
        v.verify(tw.encode(body, key))


# --- with moto ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_pool() -> Iterator[Pool]:
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with moto_idp() as (endpoint, idp):
        yield make_pool(idp, endpoint, "issuers")


@pytest.fixture(scope="module")
def moto_key() -> tw.JWK:
    resource = importlib.resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz"
    return tw.JWK.from_json(gzip.decompress(resource.read_bytes()))


def test_moto_tokens_and_the_multi_region_form(moto_pool: Pool, moto_key: tw.JWK) -> None:
    v = tw.CognitoVerifier(
        REGION,
        moto_pool.id,
        client_id=moto_pool.client,
        jwks_url=moto_pool.jwks_url,
        replica_regions=["eu-central-1"],
    )
    assert v.verify(moto_pool.access)["iss"] == moto_pool.issuer  # moto's real token
    real = tw.unverified_claims(moto_pool.access)
    for region in (REGION, "eu-central-1"):
        iss = f"https://issuer.cognito-idp.{region}.amazonaws.com/{moto_pool.id}"
        token = tw.encode({**real, "iss": iss}, moto_key)
        assert v.verify(token)["iss"] == iss
    with pytest.raises(tw.InvalidIssuerError):
        v.verify(
            tw.encode(
                {
                    **real,
                    "iss": f"https://issuer.cognito-idp.us-west-2.amazonaws.com/{moto_pool.id}",
                },
                moto_key,
            )
        )


def test_moto_behind_an_explicit_issuer(moto_pool: Pool, moto_key: tw.JWK) -> None:
    endpoint = moto_pool.jwks_url.removesuffix("/.well-known/jwks.json")
    v = tw.CognitoVerifier(REGION, moto_pool.id, client_id=moto_pool.client, issuer=endpoint)
    assert v.key_sets[0].url == moto_pool.jwks_url  # keys from {issuer}/.well-known/jwks.json
    real = tw.unverified_claims(moto_pool.access)
    assert v.verify(tw.encode({**real, "iss": endpoint}, moto_key))["sub"] == real["sub"]
    with pytest.raises(tw.InvalidIssuerError):
        v.verify(moto_pool.access)  # the AWS issuer is not accepted any more


# --- routing between key sets ---------------------------------------------------------------


def test_the_issuer_peek_only_reads(key: tw.JWK) -> None:
    iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
    assert tw._core._unverified_issuer(tw.encode(claims(iss), key)) == iss
    assert tw._core._unverified_issuer(tw.encode(claims(iss), key).encode()) == iss
    assert tw._core._unverified_issuer(tw.encode({**claims(iss), "iss": 42}, key)) is None
    for junk in ("", "a.b", "a.b.c.d", "e30.!!!.x", "x.bm90IGpzb24.y"):
        assert tw._core._unverified_issuer(junk) is None


def test_routing_between_pools_with_their_own_key_sets(key: tw.JWK) -> None:
    other_key = tw.JWK.generate("RS256")
    first_server, second_server = JWKSServer().start(), JWKSServer().start()
    first_server.keys, second_server.keys = [key], [other_key]
    try:
        v = tw.CognitoVerifier(
            pools=[
                tw.CognitoPool(POOL_ID, (CLIENT,), jwks_url=first_server.url),
                tw.CognitoPool("us-east-1_Zz9", (CLIENT,), jwks_url=second_server.url),
            ]
        )
        a = "https://issuer.cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        b = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Zz9"
        assert v.verify(tw.encode(claims(a), key))["iss"] == a
        assert v.verify(tw.encode(claims(b), other_key))["iss"] == b
        with pytest.raises(tw.KeyNotFoundError):
            v.verify(tw.encode(claims(b), key))  # pool b's set does not hold pool a's key
        with pytest.raises(tw.InvalidIssuerError):
            v.verify(tw.encode({**claims(a), "iss": ["not", "a", "string"]}, key))
        body = claims(a)
        del body["iss"]
        with pytest.raises(tw.MissingClaimError):
            v.verify(tw.encode(body, key))
        with pytest.raises(tw.MalformedTokenError):
            v.verify("not.a.token")
    finally:
        first_server.stop()
        second_server.stop()
