"""Verify-to-dict callables for tokenward and each peer library, on the same keys and token.

Each factory takes a :class:`Case` and returns a zero-argument callable that verifies the case's
token (signature, ``iss`` and ``aud``) and returns the claims dict, or None when the peer is not
installed or does not support the algorithm.
"""

from __future__ import annotations

import importlib.util
import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tokenward as tw

ISSUER = "https://cognito-idp.us-west-1.amazonaws.com/us-west-1_example"
AUDIENCE = "7d8f2k1example0client0id"

Verify = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Case:
    algorithm: str
    key: tw.JWK  # private
    token: str

    @property
    def public_jwk(self) -> dict[str, Any]:
        if self.key.key_type == "oct":
            return self.key.to_dict(private=True)
        return self.key.public().to_dict()


def realistic_claims() -> dict[str, Any]:
    """Claims shaped like a Cognito access token, plus aud so every peer checks it alike."""
    now = int(time.time())
    return {
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "cognito:groups": ["operator", "user"],
        "iss": ISSUER,
        "client_id": AUDIENCE,
        "aud": AUDIENCE,
        "origin_jti": "f0e1d2c3-b4a5-9687-7869-5a4b3c2d1e0f",
        "event_id": "01234567-89ab-cdef-0123-456789abcdef",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin reports:read",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "username": "debug@example.com",
    }


def make_case(algorithm: str) -> Case:
    key = tw.JWK.generate(algorithm)
    return Case(algorithm, key, tw.encode(realistic_claims(), key))


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def tokenward_verify(case: Case) -> Verify | None:
    key = case.key if case.key.key_type == "oct" else case.key.public()
    verifier = tw.Verifier(key, algorithms=[case.algorithm], issuer=ISSUER, audience=AUDIENCE)
    token = case.token
    return lambda: verifier.verify(token)


def pyjwt_verify(case: Case) -> Verify | None:
    if not _installed("jwt"):
        return None
    import jwt

    key = jwt.PyJWK.from_dict(case.public_jwk, algorithm=case.algorithm).key
    token = case.token
    alg = [case.algorithm]
    return lambda: jwt.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


def joserfc_verify(case: Case) -> Verify | None:
    if not _installed("joserfc"):
        return None
    from joserfc import jwk as jjwk
    from joserfc import jwt as jjwt
    from joserfc.jwt import JWTClaimsRegistry

    if case.algorithm == "EdDSA":
        # joserfc warns that RFC 9864 deprecates the name "EdDSA" in favour of "Ed25519"; the
        # tokens under test use the registered name every peer understands.
        warnings.filterwarnings("ignore", message=".*EdDSA.*", module="joserfc")
    key = jjwk.import_key(case.public_jwk)
    registry = JWTClaimsRegistry(
        iss={"essential": True, "value": ISSUER}, aud={"essential": True, "value": AUDIENCE}
    )
    token = case.token
    alg = [case.algorithm]

    def run() -> dict[str, Any]:
        result = jjwt.decode(token, key, algorithms=alg)
        registry.validate(result.claims)
        return dict(result.claims)

    return run


def jwcrypto_verify(case: Case) -> Verify | None:
    if not _installed("jwcrypto"):
        return None
    from jwcrypto import jwk as cjwk
    from jwcrypto import jwt as cjwt

    key = cjwk.JWK(**case.public_jwk)
    token = case.token
    checks = {"iss": ISSUER, "aud": AUDIENCE}
    alg = [case.algorithm]

    def run() -> dict[str, Any]:
        t = cjwt.JWT(jwt=token, key=key, algs=alg, check_claims=checks)
        return dict(json.loads(t.claims))

    return run


def authlib_verify(case: Case) -> Verify | None:
    if not _installed("authlib"):
        return None
    from authlib.jose import JsonWebToken

    decoder = JsonWebToken([case.algorithm])
    key = case.public_jwk
    token = case.token
    options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": AUDIENCE},
    }

    def run() -> dict[str, Any]:
        claims = decoder.decode(token, key, claims_options=options)
        claims.validate()
        return dict(claims)

    return run


def python_jose_verify(case: Case) -> Verify | None:
    if not _installed("jose"):
        return None
    from jose import jwt as jjwt

    key = case.public_jwk
    token = case.token
    alg = [case.algorithm]
    return lambda: jjwt.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


PEERS: dict[str, Callable[[Case], Verify | None]] = {
    "tokenward": tokenward_verify,
    "pyjwt": pyjwt_verify,
    "joserfc": joserfc_verify,
    "jwcrypto": jwcrypto_verify,
    "authlib": authlib_verify,
    "python-jose": python_jose_verify,
}
