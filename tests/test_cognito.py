"""CognitoVerifier against real Cognito tokens from moto's server on loopback.

moto plays Cognito: a user pool, app clients, a user in a group, ``admin_initiate_auth`` for real
access and ID tokens, and the pool's JWKS at ``{endpoint}/{pool_id}/.well-known/jwks.json`` (the
``jwks_url=`` override; the issuer in the tokens is the real AWS one). moto signs with a key it
ships, which lets a few tests mint tokens with one claim changed, to show each rule on its own.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.resources
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import tokenward as tw
from moto_cognito import REGION, Pool, make_pool, moto_idp, sign_in


@dataclass
class Moto:
    endpoint: str
    idp: Any
    pool: Pool
    second: Pool


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    pytest.importorskip("boto3")
    pytest.importorskip("moto.server")
    with moto_idp() as (endpoint, idp):
        yield Moto(endpoint, idp, make_pool(idp, endpoint, "main"), make_pool(idp, endpoint, "b"))


@pytest.fixture(scope="module")
def moto_key() -> tw.JWK:
    """The private key moto signs with, to mint tokens that differ from moto's in one claim."""
    resource = importlib.resources.files("moto") / "cognitoidp/resources/jwks-private.json.gz"
    return tw.JWK.from_json(gzip.decompress(resource.read_bytes()))


def verifier(pool: Pool, token_use: tw.cognito.TokenUse | None = "access", **kw: Any):
    kw.setdefault("client_id", pool.client)
    return tw.CognitoVerifier(REGION, pool.id, token_use=token_use, jwks_url=pool.jwks_url, **kw)


def mint(moto_key: tw.JWK, pool: Pool, drop: str = "", **changes: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "8b2a-alice",
        "iss": pool.issuer,
        "client_id": pool.client,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin reports:read",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:groups": ["operator"],
        "username": "alice",
    }
    claims.update(changes)
    claims.pop(drop, None)
    return tw.encode(claims, moto_key)


# --- real tokens from moto ------------------------------------------------------------------


def test_moto_serves_the_pool_keys_where_we_look(moto: Moto) -> None:
    pool = moto.pool
    assert tw.unverified_claims(pool.access)["iss"] == pool.issuer
    keys = tw.RemoteJWKS(pool.jwks_url).prefetch()
    assert keys.get(tw.unverified_header(pool.access)["kid"]) is not None
    default = tw.CognitoPool(pool.id, (pool.client,), region=REGION)
    assert default.issuer == pool.issuer
    assert default.default_jwks_url == f"{pool.issuer}/.well-known/jwks.json"


def test_access_token(moto: Moto) -> None:
    v = verifier(moto.pool)
    claims = v.verify(moto.pool.access)
    assert claims["token_use"] == "access"
    assert claims["client_id"] == moto.pool.client
    who = v.identity(claims)
    assert isinstance(who, tw.Principal) and who.subject == claims["sub"]
    assert who.groups == ("operator",)
    assert who.claims["username"] == "alice"
    assert "aws.cognito.signin.user.admin" in who.scopes
    assert who.claims["client_id"] == moto.pool.client
    assert asyncio.run(v.verify_async(moto.pool.access)) == claims


def test_id_token(moto: Moto) -> None:
    v = verifier(moto.pool, token_use="id")
    claims = v.verify(moto.pool.id_token)
    assert claims["token_use"] == "id"
    assert claims["aud"] == moto.pool.client
    assert v.identity(claims).groups == ("operator",)
    assert asyncio.run(v.verify_async(moto.pool.id_token)) == claims


def test_either_token_use(moto: Moto) -> None:
    v = verifier(moto.pool, token_use=None)
    assert v.verify(moto.pool.access)["token_use"] == "access"
    assert v.verify(moto.pool.id_token)["token_use"] == "id"


def test_id_token_where_an_access_token_is_required(moto: Moto) -> None:
    with pytest.raises(tw.InvalidTokenError):
        verifier(moto.pool).verify(moto.pool.id_token)
    with pytest.raises(tw.InvalidTokenError):
        asyncio.run(verifier(moto.pool).verify_async(moto.pool.id_token))


def test_access_token_where_an_id_token_is_required(moto: Moto) -> None:
    with pytest.raises(tw.InvalidTokenError):
        verifier(moto.pool, token_use="id").verify(moto.pool.access)


def test_wrong_client(moto: Moto) -> None:
    other = sign_in(moto.idp, moto.pool.id, moto.pool.other_client)
    with pytest.raises(tw.InvalidAudienceError):
        verifier(moto.pool).verify(other["access"])
    with pytest.raises(tw.InvalidAudienceError):
        verifier(moto.pool, token_use="id").verify(other["id"])
    both = verifier(
        moto.pool, client_id=None, client_ids=[moto.pool.client, moto.pool.other_client]
    )
    assert both.verify(other["access"])["client_id"] == moto.pool.other_client


def test_cache_size_caches_the_signature_check_never_the_cognito_rules(moto: Moto) -> None:
    v = verifier(moto.pool, cache_size=8)
    access = v._pools[moto.pool.issuer].access
    claims = v.verify(moto.pool.access)
    assert v.verify(moto.pool.access) == claims
    assert asyncio.run(v.verify_async(moto.pool.access)) == claims
    info = access.cache_info()
    assert info is not None and (info["hits"], info["misses"]) == (2, 1)
    # Another app client's token passes the native checks (and is cached) but every call still
    # runs the client_id rule: refused each time.
    other = sign_in(moto.idp, moto.pool.id, moto.pool.other_client)["access"]
    for _ in range(3):
        with pytest.raises(tw.InvalidAudienceError):
            v.verify(other)
    assert verifier(moto.pool)._pools[moto.pool.issuer].access.cache_info() is None


def test_recheck_checks_a_token_accepted_before_again_without_its_claims(moto: Moto) -> None:
    v = verifier(moto.pool, cache_size=8)
    access = v._pools[moto.pool.issuer].access
    claims = asyncio.run(v.verify_async(moto.pool.access))
    assert asyncio.run(v.recheck_async(moto.pool.access)) is None
    info = access.cache_info()
    assert info is not None and (info["hits"], info["misses"]) == (1, 1)
    with pytest.raises(tw.ExpiredTokenError):
        asyncio.run(v.recheck_async(moto.pool.access, now=claims["exp"] + 1))
    with pytest.raises(tw.InvalidSignatureError):
        asyncio.run(v.recheck_async(moto.pool.access[:-4] + "AAAA"))


def test_the_provider_remembers_only_tokens_that_passed_every_cognito_rule(moto: Moto) -> None:
    from tokenward.providers import CognitoProvider

    provider = CognitoProvider(verifier(moto.pool, cache_size=8), memo_size=8)
    first = asyncio.run(provider.authenticate(moto.pool.access))
    assert asyncio.run(provider.authenticate(moto.pool.access)) is first
    # Another app client's token passes the native checks (and is cached there) but not the
    # client_id rule: refused every time, never remembered.
    other = sign_in(moto.idp, moto.pool.id, moto.pool.other_client)["access"]
    for _ in range(3):
        with pytest.raises(tw.InvalidAudienceError):
            asyncio.run(provider.authenticate(other))
    assert len(provider.memo) == 1
    exp = first.claims["exp"]
    with pytest.raises(tw.ExpiredTokenError):  # remembered, and still checked
        asyncio.run(provider.verifier.recheck_async(moto.pool.access, now=exp + 1))


def test_wrong_pool_is_refused_although_moto_signs_every_pool_with_one_key(moto: Moto) -> None:
    with pytest.raises(tw.InvalidIssuerError):
        verifier(moto.pool, client_ids=[moto.second.client]).verify(moto.second.access)


def test_several_pools_chosen_by_exact_issuer(moto: Moto) -> None:
    a, b = moto.pool, moto.second
    v = tw.CognitoVerifier(
        pools=[
            tw.CognitoPool(a.id, (a.client,), jwks_url=a.jwks_url),
            tw.CognitoPool(b.id, (b.client,), jwks_url=b.jwks_url),
        ]
    )
    assert v.verify(a.access)["iss"] == a.issuer
    assert asyncio.run(v.verify_async(b.access))["iss"] == b.issuer
    assert v.issuers == [a.issuer, b.issuer]
    # a token of pool a that claims pool b's client: routed to pool a, refused there
    with pytest.raises(tw.InvalidAudienceError):
        tw.CognitoVerifier(
            pools=[
                tw.CognitoPool(a.id, (b.client,), jwks_url=a.jwks_url),
                tw.CognitoPool(b.id, (a.client,), jwks_url=b.jwks_url),
            ]
        ).verify(a.access)


def test_tampered_and_expired_real_tokens(moto: Moto) -> None:
    v = verifier(moto.pool)
    head, payload, sig = moto.pool.access.split(".")
    with pytest.raises(tw.InvalidSignatureError):
        v.verify(f"{head}.{payload}.{sig[:-4]}{'AAAA' if sig[-4:] != 'AAAA' else 'BBBB'}")
    exp = tw.unverified_claims(moto.pool.access)["exp"]
    with pytest.raises(tw.ExpiredTokenError):
        v.verify(moto.pool.access, now=exp + 1)


# --- one rule at a time, with tokens signed by moto's key -----------------------------------


def test_minted_token_passes(moto: Moto, moto_key: tw.JWK) -> None:
    assert verifier(moto.pool).verify(mint(moto_key, moto.pool))["sub"] == "8b2a-alice"


@pytest.mark.parametrize("claim", ["token_use", "client_id", "exp", "iat", "sub", "iss"])
def test_a_required_claim_that_is_absent_is_a_rejection(
    moto: Moto, moto_key: tw.JWK, claim: str
) -> None:
    with pytest.raises(tw.MissingClaimError):
        verifier(moto.pool).verify(mint(moto_key, moto.pool, drop=claim))


def test_an_id_token_needs_aud(moto: Moto, moto_key: tw.JWK) -> None:
    t = mint(moto_key, moto.pool, drop="client_id", token_use="id")
    with pytest.raises(tw.MissingClaimError):
        verifier(moto.pool, token_use="id").verify(t)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"token_use": "refresh"}, tw.InvalidClaimError),
        ({"token_use": ["access"]}, tw.InvalidClaimError),
        ({"client_id": "someone-else"}, tw.InvalidAudienceError),
        ({"client_id": ["x"]}, tw.InvalidAudienceError),
        ({"aud": "x"}, tw.InvalidAudienceError),
        (
            {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
            tw.InvalidIssuerError,
        ),
        ({"iss": "http://cognito-idp.us-east-1.amazonaws.com/"}, tw.InvalidIssuerError),
        ({"exp": int(time.time()) - 10}, tw.ExpiredTokenError),
    ],
)
def test_each_rule(moto: Moto, moto_key: tw.JWK, changes: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        verifier(moto.pool).verify(mint(moto_key, moto.pool, **changes))


def test_only_rs256(moto: Moto, moto_key: tw.JWK) -> None:
    no_alg = moto_key.to_dict(private=True)
    del no_alg["alg"]
    claims = tw.unverified_claims(mint(moto_key, moto.pool))
    forged = tw.encode(claims, tw.JWK.from_json(no_alg), algorithm="PS256")
    with pytest.raises(tw.UnsupportedAlgorithmError):
        verifier(moto.pool).verify(forged)
    # the old confusion attack: HS256 keyed with the public key's text
    public_json = moto_key.public().to_json().encode()
    with pytest.raises(tw.InvalidKeyError):
        tw.JWK.from_secret(public_json, "HS256")


def test_a_token_signed_by_another_key_with_moto_kid(moto: Moto) -> None:
    other = tw.JWK.generate("RS256")
    claims = tw.unverified_claims(moto.pool.access)
    with pytest.raises(tw.InvalidSignatureError):
        verifier(moto.pool).verify(tw.encode(claims, other, {"kid": "dummy"}))


# --- configuration --------------------------------------------------------------------------


def test_client_id_is_required(moto: Moto) -> None:
    with pytest.raises(tw.ConfigurationError, match="client id"):
        tw.CognitoVerifier(REGION, moto.pool.id)
    with pytest.raises(tw.ConfigurationError, match="client id"):
        tw.CognitoVerifier(REGION, moto.pool.id, client_ids=[])


@pytest.mark.parametrize(
    "args",
    [
        {"region": REGION, "user_pool_id": "not a pool", "client_id": "c"},
        {"region": "us-east-1/../x", "user_pool_id": "us-east-1_abc", "client_id": "c"},
        {"region": REGION, "user_pool_id": "us-east-1_abc", "client_id": "c", "token_use": "x"},
        {"region": REGION, "client_id": "c"},
        {},
    ],
)
def test_bad_settings(args: dict[str, Any]) -> None:
    with pytest.raises(tw.ConfigurationError):
        tw.CognitoVerifier(**args)


def test_region_comes_from_the_pool_id() -> None:
    v = tw.CognitoVerifier(user_pool_id="eu-west-1_AbC123", client_id="c")
    assert v.issuers == ["https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"]


def test_unreachable_keys_are_unavailable_not_invalid(moto: Moto) -> None:
    v = tw.CognitoVerifier(
        REGION, moto.pool.id, client_id=moto.pool.client, jwks_url="http://127.0.0.1:9/x", retries=0
    )
    with pytest.raises(tw.KeySetUnavailableError):
        v.verify(moto.pool.access)
    with pytest.raises(tw.KeySetUnavailableError):
        v.prefetch()


# --- claims an API gateway already checked --------------------------------------------------


def test_gateway_claims_need_the_explicit_mode(moto: Moto) -> None:
    claims = tw.unverified_claims(moto.pool.access)
    with pytest.raises(tw.ConfigurationError, match="trust_gateway"):
        verifier(moto.pool).claims_from_gateway(claims)


def test_gateway_claims(moto: Moto) -> None:
    v = verifier(moto.pool, trust_gateway=True)
    claims = tw.unverified_claims(moto.pool.access)
    assert v.claims_from_gateway(claims)["sub"] == claims["sub"]
    # REST API authorizers stringify everything
    rest = {k: str(val) for k, val in claims.items()}
    rest["cognito:groups"] = "operator"
    rest["exp"] = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(claims["exp"]))
    out = v.claims_from_gateway(rest, form="rest")
    assert out["cognito:groups"] == ["operator"]
    assert out["exp"] == claims["exp"]
    # HTTP API authorizers write lists as "[a b]"
    http = {**claims, "cognito:groups": "[operator root]", "exp": str(claims["exp"])}
    assert v.claims_from_gateway(http, form="http")["cognito:groups"] == ["operator", "root"]
    # every rule but the signature still holds
    for bad, error in [
        ({"client_id": moto.pool.other_client}, tw.InvalidAudienceError),
        ({"iss": moto.second.issuer}, tw.InvalidIssuerError),
        ({"token_use": "id"}, tw.TokenUseError),
        ({"exp": int(time.time()) - 5}, tw.ExpiredTokenError),
        ({"exp": "soon"}, tw.InvalidClaimError),
    ]:
        with pytest.raises(error):
            v.claims_from_gateway({**claims, **bad})
    for missing in ("iss", "sub", "token_use", "client_id"):
        with pytest.raises(tw.MissingClaimError):
            v.claims_from_gateway({k: val for k, val in claims.items() if k != missing})
    # and a token, when one is sent, is verified as usual
    assert v.verify(moto.pool.access)["sub"] == claims["sub"]


# --- one identity type; which kind of token --------------------------------------------------


def test_one_identity_type_and_one_rule_for_groups(moto: Moto, moto_key: tw.JWK) -> None:
    """Issue 20 item 20: CognitoIdentity is gone from the public API; a Cognito verifier's
    identity() is the Principal every strategy makes, under its one rule for groups, so
    ``[1, "root"]`` is refused here as everywhere instead of standing for ``("root",)``."""
    from tokenward.principal import from_cognito_claims

    assert "CognitoIdentity" not in tw.__all__ and not hasattr(tw, "CognitoIdentity")
    assert not hasattr(tw.cognito, "CognitoIdentity")
    v = verifier(moto.pool)
    claims = v.verify(mint(moto_key, moto.pool, **{"cognito:groups": [1, "root"]}))
    with pytest.raises(tw.InvalidClaimError, match="list of strings"):
        v.identity(claims)
    with pytest.raises(tw.InvalidClaimError, match="list of strings"):
        from_cognito_claims(claims)
    good = v.verify(moto.pool.access)
    assert v.identity(good) == from_cognito_claims(good)
    assert v.identity(good).groups == ("operator",)


KIND = {"access": "access token", "id": "ID token"}


@pytest.mark.parametrize("token_use", ["access", "id", None])
def test_a_token_of_the_other_kind_says_which_was_sent_and_which_is_accepted(
    moto: Moto, moto_key: tw.JWK, token_use: tw.cognito.TokenUse | None
) -> None:
    """Issue 20 item 21: moto's real access and ID tokens under token_use access, id and None
    (COGNITO_TOKEN_USE=any): the kind accepted passes, the other is a TokenUseError naming
    both (it was an InvalidAudienceError or a MissingClaimError about ``aud``). An ID token's
    audience is its ``aud`` (the app client), never a ``client_id`` claim."""
    v = verifier(moto.pool, token_use=token_use)
    for kind, token in (("access", moto.pool.access), ("id", moto.pool.id_token)):
        if token_use in (None, kind):
            assert v.verify(token)["token_use"] == kind
            assert asyncio.run(v.verify_async(token))["token_use"] == kind
            continue
        for call in (v.verify, lambda t: asyncio.run(v.verify_async(t))):
            with pytest.raises(tw.TokenUseError) as info:
                call(token)
            assert (info.value.token_use, info.value.wanted) == (kind, (token_use,))
            assert str(info.value) == (
                f"an {KIND[kind]} was sent (token_use {kind!r}), and this accepts "
                f"{KIND[token_use]}s only"
            )
    refresh = mint(moto_key, moto.pool, token_use="refresh")
    with pytest.raises(tw.TokenUseError, match="neither an access nor an ID token"):
        v.verify(refresh)
    if token_use == "access":
        return
    id_claims = {"token_use": "id", "drop": "client_id"}
    assert v.verify(mint(moto_key, moto.pool, aud=moto.pool.client, **id_claims))["sub"]
    with pytest.raises(tw.InvalidAudienceError):
        v.verify(mint(moto_key, moto.pool, aud=moto.pool.other_client, **id_claims))
    with pytest.raises(tw.InvalidAudienceError):  # a client_id does not stand in for aud
        v.verify(
            mint(moto_key, moto.pool, token_use="id", aud=moto.pool.other_client)  # client_id ok
        )
