"""Interoperability with PyJWT and joserfc, both directions, for every algorithm tokenward offers.

tokenward -> peer: a token from ``tw.encode`` verifies with PyJWT and joserfc, given the public
key that tokenward exports (the shared secret for HS*), and the peers check iss/aud/exp.
peer -> tokenward: a token from PyJWT or joserfc verifies with ``tw.decode``, with the key
imported from the peer's JWK export (and, for asymmetric keys, from its SPKI PEM), and
tokenward checks iss/aud/exp.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import errors as jerrors
from joserfc import jwk as jjwk
from joserfc import jwt as jjwt

import tokenward as tw

ISSUER = "https://issuer.example"
AUDIENCE = "interop-api"
HASH_BYTES = {"256": 32, "384": 48, "512": 64}
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
CRYPTOGRAPHY_CURVES = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}


def b64u_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_for(alg: str, *, exp_offset: int = 600) -> dict[str, Any]:
    return {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": int(time.time()) + exp_offset,
        "sub": f"user-{alg.lower()}",
        "scope": "read write",
        "n": 42,
    }


@contextlib.contextmanager
def joserfc_alg(alg: str) -> Iterator[None]:
    """joserfc >= 1.5 warns (SecurityWarning, a UserWarning) that "EdDSA" is deprecated by
    RFC 9864. pytest turns warnings into errors, so for EdDSA only, and only around the joserfc
    call, that one message is ignored; everything else still fails the test."""
    with warnings.catch_warnings():
        if alg == "EdDSA":
            warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=UserWarning)
        yield


def hmac_secret(key: tw.JWK) -> bytes:
    return b64u_decode(key.to_dict(private=True)["k"])


# --------------------------------------------------------------------------------------------
# Keys (generated once per algorithm and module).
# --------------------------------------------------------------------------------------------


@functools.cache
def tokenward_key(alg: str) -> tw.JWK:
    key = tw.JWK.generate(alg)
    assert key.algorithm == alg
    return key


@functools.cache
def pyjwt_private_key(alg: str) -> Any:
    if alg.startswith("HS"):
        return secrets.token_bytes(HASH_BYTES[alg[2:]])
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg.startswith("ES"):
        return ec.generate_private_key(CRYPTOGRAPHY_CURVES[alg]())
    assert alg == "EdDSA"
    return ed25519.Ed25519PrivateKey.generate()


@functools.cache
def joserfc_private_key(alg: str) -> Any:
    if alg.startswith("HS"):
        return jjwk.OctKey.generate_key(HASH_BYTES[alg[2:]] * 8)
    if alg.startswith(("RS", "PS")):
        return jjwk.RSAKey.generate_key(2048)
    if alg.startswith("ES"):
        return jjwk.ECKey.generate_key(EC_CURVES[alg])
    assert alg == "EdDSA"
    return jjwk.OKPKey.generate_key("Ed25519")


# --------------------------------------------------------------------------------------------
# Peer-side verification helpers.
# --------------------------------------------------------------------------------------------


def pyjwt_key_from_tokenward(alg: str, key: tw.JWK) -> Any:
    if alg.startswith("HS"):
        return hmac_secret(key)
    return jwt.PyJWK(key.public().to_dict(), algorithm=alg).key


def pyjwt_verify(token: str, alg: str, key: tw.JWK, **kwargs: Any) -> dict[str, Any]:
    options = {"require": ["exp", "iss", "aud"]}
    return jwt.decode(
        token,
        pyjwt_key_from_tokenward(alg, key),
        algorithms=[alg],
        options=options,
        **({"audience": AUDIENCE, "issuer": ISSUER} | kwargs),
    )


def joserfc_key_from_tokenward(alg: str, key: tw.JWK) -> Any:
    if alg.startswith("HS"):
        return jjwk.OctKey.import_key(hmac_secret(key))
    return jjwk.import_key(json.loads(key.public().to_json()))


def joserfc_verify(
    token: str, alg: str, key: tw.JWK, *, issuer: str = ISSUER, audience: str = AUDIENCE
) -> dict[str, Any]:
    with joserfc_alg(alg):
        decoded = jjwt.decode(token, joserfc_key_from_tokenward(alg, key), algorithms=[alg])
    registry = jjwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
    )
    registry.validate(decoded.claims)
    assert decoded.header["alg"] == alg
    return dict(decoded.claims)


def tokenward_checks(token: str, key: tw.JWK | tw.JWKSet, alg: str, claims: dict[str, Any]) -> None:
    """tw.decode returns exactly the claims, and refuses a wrong issuer or audience."""
    assert tw.decode(token, key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE) == claims
    assert (
        tw.decode(token, key, algorithms=[alg], issuer=[ISSUER, "x"], audience=[AUDIENCE, "y"])
        == claims
    )
    with pytest.raises(tw.InvalidIssuerError):
        tw.decode(token, key, algorithms=[alg], issuer="https://other.example", audience=AUDIENCE)
    with pytest.raises(tw.InvalidAudienceError):
        tw.decode(token, key, algorithms=[alg], issuer=ISSUER, audience="other-api")
    with pytest.raises(tw.MissingClaimError):
        tw.decode(token, key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE, require=["jti"])


def tamper_payload(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(b64u_decode(payload))
    claims.update(changes)
    forged = b64u_encode(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{forged}.{signature}"


ALGS = list(tw.ALGORITHMS)


def test_algorithm_list_is_complete() -> None:
    assert set(ALGS) == {
        "HS256", "HS384", "HS512",
        "RS256", "RS384", "RS512",
        "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512",
        "EdDSA",
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# tokenward -> PyJWT / joserfc
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_tokenward_token_verifies_with_pyjwt(alg: str) -> None:
    key = tokenward_key(alg)
    claims = claims_for(alg)
    token = tw.encode(claims, key)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": alg, "typ": "JWT", "kid": key.kid}
    assert pyjwt_verify(token, alg, key) == claims
    with pytest.raises(jwt.InvalidAudienceError):
        pyjwt_verify(token, alg, key, audience="other-api")
    with pytest.raises(jwt.InvalidIssuerError):
        pyjwt_verify(token, alg, key, issuer="https://other.example")


@pytest.mark.parametrize("alg", ALGS)
def test_tokenward_token_verifies_with_joserfc(alg: str) -> None:
    key = tokenward_key(alg)
    claims = claims_for(alg)
    token = tw.encode(claims, key)
    assert joserfc_verify(token, alg, key) == claims
    with pytest.raises(jerrors.InvalidClaimError):
        joserfc_verify(token, alg, key, audience="other-api")
    with pytest.raises(jerrors.InvalidClaimError):
        joserfc_verify(token, alg, key, issuer="https://other.example")


@pytest.mark.parametrize("alg", ALGS)
def test_tokenward_expired_token_rejected_by_all(alg: str) -> None:
    key = tokenward_key(alg)
    token = tw.encode(claims_for(alg, exp_offset=-120), key)
    with pytest.raises(jwt.ExpiredSignatureError):
        pyjwt_verify(token, alg, key)
    with pytest.raises(jerrors.ExpiredTokenError):
        joserfc_verify(token, alg, key)
    verify_key = key if alg.startswith("HS") else key.public()
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(token, verify_key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)


# --------------------------------------------------------------------------------------------
# PyJWT -> tokenward
# --------------------------------------------------------------------------------------------


def pyjwt_jwk_export(alg: str) -> dict[str, Any]:
    private = pyjwt_private_key(alg)
    algorithm = jwt.get_algorithm_by_name(alg)
    public = private if isinstance(private, bytes) else private.public_key()
    exported = algorithm.to_jwk(public, as_dict=True)
    assert isinstance(exported, dict)
    return exported


@pytest.mark.parametrize("alg", ALGS)
def test_pyjwt_token_verifies_with_tokenward_jwk(alg: str) -> None:
    claims = claims_for(alg)
    token = jwt.encode(claims, pyjwt_private_key(alg), algorithm=alg, headers={"kid": "pyjwt-1"})
    exported = pyjwt_jwk_export(alg)
    key = tw.JWK.from_json(exported)
    assert key.is_private is (alg.startswith("HS"))
    tokenward_checks(token, key, alg, claims)
    # Same key in a set under the kid PyJWT put in the header.
    keyset = tw.JWKSet([tw.JWK.from_json(exported | {"kid": "pyjwt-1"})])
    tokenward_checks(token, keyset, alg, claims)
    # And from the JSON text of the export.
    tokenward_checks(token, tw.JWK.from_json(json.dumps(exported)), alg, claims)


@pytest.mark.parametrize("alg", [a for a in ALGS if not a.startswith("HS")])
def test_pyjwt_token_verifies_with_tokenward_pem(alg: str) -> None:
    claims = claims_for(alg)
    private = pyjwt_private_key(alg)
    token = jwt.encode(claims, private, algorithm=alg)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for data in (pem, pem.decode("ascii")):
        key = tw.JWK.from_pem(data)
        assert key.is_private is False
        tokenward_checks(token, key, alg, claims)
    # The PEM and the JWK export are the same key.
    assert tw.JWK.from_pem(pem).thumbprint() == tw.JWK.from_json(pyjwt_jwk_export(alg)).thumbprint()


@pytest.mark.parametrize("alg", ALGS)
def test_pyjwt_expired_token_rejected_by_tokenward(alg: str) -> None:
    token = jwt.encode(claims_for(alg, exp_offset=-120), pyjwt_private_key(alg), algorithm=alg)
    key = tw.JWK.from_json(pyjwt_jwk_export(alg))
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(token, key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)


# --------------------------------------------------------------------------------------------
# joserfc -> tokenward
# --------------------------------------------------------------------------------------------


def joserfc_encode(alg: str, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    with joserfc_alg(alg):
        return jjwt.encode(
            {"alg": alg, **(header or {})}, claims, joserfc_private_key(alg), algorithms=[alg]
        )


@pytest.mark.parametrize("alg", ALGS)
def test_joserfc_token_verifies_with_tokenward_jwk(alg: str) -> None:
    claims = claims_for(alg)
    token = joserfc_encode(alg, claims, {"kid": "joserfc-1"})
    private = joserfc_private_key(alg)
    exported = private.as_dict(private=alg.startswith("HS"))
    key = tw.JWK.from_json(exported)
    assert key.is_private is (alg.startswith("HS"))
    tokenward_checks(token, key, alg, claims)
    keyset = tw.JWKSet([tw.JWK.from_json(exported | {"kid": "joserfc-1"})])
    tokenward_checks(token, keyset, alg, claims)
    if not alg.startswith("HS"):
        # JSON text export too.
        text = json.dumps(exported)
        tokenward_checks(token, tw.JWK.from_json(text.encode()), alg, claims)


@pytest.mark.parametrize("alg", [a for a in ALGS if not a.startswith("HS")])
def test_joserfc_token_verifies_with_tokenward_pem(alg: str) -> None:
    claims = claims_for(alg)
    token = joserfc_encode(alg, claims)
    pem = joserfc_private_key(alg).as_pem(private=False)
    key = tw.JWK.from_pem(pem)
    assert key.is_private is False
    tokenward_checks(token, key, alg, claims)
    exported = joserfc_private_key(alg).as_dict(private=False)
    assert key.thumbprint() == tw.JWK.from_json(exported).thumbprint()


@pytest.mark.parametrize("alg", ALGS)
def test_joserfc_expired_token_rejected_by_tokenward(alg: str) -> None:
    token = joserfc_encode(alg, claims_for(alg, exp_offset=-120))
    key = tw.JWK.from_json(joserfc_private_key(alg).as_dict(private=alg.startswith("HS")))
    with pytest.raises(tw.ExpiredTokenError):
        tw.decode(token, key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)


# --------------------------------------------------------------------------------------------
# Tampering after signing: all three refuse.
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_tampered_token_rejected_by_all_three(alg: str) -> None:
    key = tokenward_key(alg)
    claims = claims_for(alg)
    token = tw.encode(claims, key)
    forged = tamper_payload(token, sub="admin")
    assert tw.unverified_claims(forged) == claims | {"sub": "admin"}
    verify_key = key if alg.startswith("HS") else key.public()
    # The untouched token is fine for all three ...
    assert tw.decode(token, verify_key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE) == (
        claims
    )
    assert pyjwt_verify(token, alg, key) == claims
    assert joserfc_verify(token, alg, key) == claims
    # ... the forged one for none of them.
    with pytest.raises(tw.InvalidSignatureError):
        tw.decode(forged, verify_key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(jwt.InvalidSignatureError):
        pyjwt_verify(forged, alg, key)
    with pytest.raises(jerrors.BadSignatureError):
        joserfc_verify(forged, alg, key)


@pytest.mark.parametrize("alg", ["HS256", "RS256", "ES256", "EdDSA"])
def test_peer_tokens_tampered_rejected_by_tokenward(alg: str) -> None:
    claims = claims_for(alg)
    from_pyjwt = jwt.encode(claims, pyjwt_private_key(alg), algorithm=alg)
    from_joserfc = joserfc_encode(alg, claims)
    pyjwt_key = tw.JWK.from_json(pyjwt_jwk_export(alg))
    joserfc_key = tw.JWK.from_json(joserfc_private_key(alg).as_dict(private=alg.startswith("HS")))
    for token, key in ((from_pyjwt, pyjwt_key), (from_joserfc, joserfc_key)):
        with pytest.raises(tw.InvalidSignatureError):
            tw.decode(
                tamper_payload(token, aud="elsewhere"),
                key,
                algorithms=[alg],
                issuer=ISSUER,
                audience="elsewhere",
            )
    # Keys do not cross: a PyJWT token does not verify under the joserfc key.
    with pytest.raises(tw.InvalidSignatureError):
        tw.decode(from_pyjwt, joserfc_key, algorithms=[alg], issuer=ISSUER, audience=AUDIENCE)
