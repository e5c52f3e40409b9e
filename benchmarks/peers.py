"""Verify-to-dict callables for tokenward and each peer library, on the same keys and token.

Each factory takes a :class:`Case` and returns a zero-argument callable that verifies the case's
token (signature, ``iss`` and ``aud``) and returns the claims dict, or None when the peer is not
installed (:data:`NOT_INSTALLED_REASONS` says why, where it is known). A factory raises
:class:`Unavailable` when the peer is installed but cannot verify this case (an algorithm it lacks,
a check it cannot make, or tokenward's cache missing from this build).
"""

from __future__ import annotations

import base64
import importlib.metadata
import importlib.util
import json
import secrets
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import tokenward as tw

ISSUER = "https://cognito-idp.us-west-1.amazonaws.com/us-west-1_example"
AUDIENCE = "7d8f2k1example0client0id"

Verify = Callable[[], dict[str, Any]]

#: Capacity of tokenward's verified-token cache wherever the benchmark turns it on.
CACHE_SIZE = 10_000

#: Peers the ``bench`` extra cannot install on this project's reference machine (x86_64 Linux;
#: Python 3.11, 3.12 and 3.13), with the reason; shown instead of a bare "not installed".
NOT_INSTALLED_REASONS = {
    "pyjwt-2.10": (
        "not installed: `make bench` puts PyJWT 2.10 into build/pyjwt-2.10 "
        "(pip install --no-deps --target build/pyjwt-2.10 'pyjwt==2.10.1')"
    ),
    "pyjwt-rs": (
        "not installable: PyPI has no wheel for CPython 3.11, 3.12 or 3.13 on x86_64 Linux, only "
        "an sdist, and building it (maturin/cargo) needs crates.io, unreachable from the bench "
        "machine"
    ),
}
if sys.version_info < (3, 12):
    NOT_INSTALLED_REASONS["ryjwt"] = (
        "not installable on Python 3.11: ryjwt requires Python 3.12+ (`make bench` runs it on 3.12)"
    )


ROOT = Path(__file__).resolve().parents[1]

#: PyJWT 2.10, installed beside the current PyJWT by ``make bench`` (``--target``), loaded under
#: another module name so that both run in this process. PyJWT 2.11+ verifies HS256 about 2.5x
#: slower than 2.10, so a ratio against the current PyJWT alone would flatter tokenward.
PYJWT_OLD_DIR = ROOT / "build" / "pyjwt-2.10"
PYJWT_OLD_MODULE = "_bench_pyjwt_2_10"


class Unavailable(Exception):
    """The peer is installed but cannot verify this case; the message says why."""


@dataclass(frozen=True)
class Case:
    algorithm: str
    key: tw.JWK  # private
    token: str
    #: The same claims without ``aud``, same key: for peers that cannot be given an audience.
    token_without_aud: str = ""

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


def make_key(algorithm: str) -> tw.JWK:
    """A fresh key. HMAC secrets are printable ASCII (as long as the hash) so that peers taking the
    secret as ``str`` (rsjwt) get exactly the same bytes as everyone else."""
    if not algorithm.startswith("HS"):
        return tw.JWK.generate(algorithm)
    length = int(algorithm[2:]) // 8
    key = tw.JWK.from_secret(secrets.token_urlsafe(length)[:length], algorithm)
    return tw.JWK.from_json({**key.to_dict(private=True), "kid": key.thumbprint()})


def make_case(algorithm: str, key: tw.JWK | None = None) -> Case:
    key = key or make_key(algorithm)
    claims = realistic_claims()
    without_aud = {k: v for k, v in claims.items() if k != "aud"}
    return Case(algorithm, key, tw.encode(claims, key), tw.encode(without_aud, key))


def verify_key(case: Case) -> tw.JWK:
    """The key a verifier holds: the secret for HMAC, else the public half."""
    return case.key if case.key.key_type == "oct" else case.key.public()


def cached_verifier(case: Case, cache_size: int = CACHE_SIZE) -> tw.Verifier:
    """A tokenward verifier with the verified-token cache on; Unavailable in builds without it."""
    try:
        return tw.Verifier(
            verify_key(case),
            algorithms=[case.algorithm],
            issuer=ISSUER,
            audience=AUDIENCE,
            cache_size=cache_size,  # type: ignore[call-arg]
        )
    except TypeError as exc:
        raise Unavailable("n/a (no cache in this build)") from exc


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def load_package(name: str, directory: Path) -> ModuleType | None:
    """The package in `directory` (a folder with ``__init__.py``) imported as `name`, or None
    when it is not there. Works for packages whose own imports are all relative (PyJWT's are)."""
    if name in sys.modules:
        return sys.modules[name]
    init = directory / "__init__.py"
    if not init.exists():
        return None
    spec = importlib.util.spec_from_file_location(
        name, init, submodule_search_locations=[str(directory)]
    )
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def old_pyjwt_version() -> str | None:
    """The version of the PyJWT in :data:`PYJWT_OLD_DIR`, from its dist-info."""
    for dist in importlib.metadata.distributions(path=[str(PYJWT_OLD_DIR)]):
        if dist.metadata["Name"].lower() == "pyjwt":
            return str(dist.version)
    return None


def public_pem(case: Case) -> bytes:
    """The case's public key as SubjectPublicKeyInfo PEM (through ``cryptography``), for peers
    that load keys from PEM only."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    jwk = case.public_jwk
    public: Any
    if jwk["kty"] == "RSA":
        n, e = (int.from_bytes(_b64url_decode(jwk[p]), "big") for p in ("n", "e"))
        public = rsa.RSAPublicNumbers(e, n).public_key()
    elif jwk["kty"] == "EC":
        curves = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
        x, y = (int.from_bytes(_b64url_decode(jwk[p]), "big") for p in ("x", "y"))
        public = ec.EllipticCurvePublicNumbers(x, y, curves[jwk["crv"]]).public_key()
    elif jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
        public = ed25519.Ed25519PublicKey.from_public_bytes(_b64url_decode(jwk["x"]))
    else:
        raise Unavailable(f"no PEM for a {jwk['kty']} key here")
    return bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _secret(case: Case) -> bytes:
    return _b64url_decode(case.key.to_dict(private=True)["k"])


def tokenward_verify(case: Case) -> Verify | None:
    key = verify_key(case)
    verifier = tw.Verifier(key, algorithms=[case.algorithm], issuer=ISSUER, audience=AUDIENCE)
    token = case.token
    return lambda: verifier.verify(token)


def tokenward_cached_verify(case: Case) -> Verify | None:
    """The same verify with the verified-token cache on: after the first call, every call is a
    cache hit (same token), which is what this column measures."""
    verifier = cached_verifier(case)
    token = case.token
    return lambda: verifier.verify(token)


def _pyjwt_verify(jwt: Any, case: Case) -> Verify:
    key = jwt.PyJWK.from_dict(case.public_jwk, algorithm=case.algorithm).key
    token = case.token
    alg = [case.algorithm]
    return lambda: jwt.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


def pyjwt_verify(case: Case) -> Verify | None:
    if not _installed("jwt"):
        return None
    import jwt

    return _pyjwt_verify(jwt, case)


def pyjwt_old_verify(case: Case) -> Verify | None:
    """PyJWT 2.10 from :data:`PYJWT_OLD_DIR`, loaded beside the current PyJWT."""
    jwt = load_package(PYJWT_OLD_MODULE, PYJWT_OLD_DIR / "jwt")
    if jwt is None:
        return None
    return _pyjwt_verify(jwt, case)


def oxyjwt_verify(case: Case) -> Verify | None:
    """oxyjwt: Rust (jsonwebtoken) behind PyJWT's decode(); keys parsed once as DecodingKey."""
    if not _installed("oxyjwt"):
        return None
    import oxyjwt

    if case.key.key_type == "oct":
        key = oxyjwt.DecodingKey.from_secret(_secret(case))
    else:
        key = oxyjwt.DecodingKey.from_jwk(case.public_jwk)
    token = case.token
    alg = [case.algorithm]
    return lambda: oxyjwt.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


def ryjwt_verify(case: Case) -> Verify | None:
    """ryjwt: a Rust core (PyO3) with one key object per configuration; audience and issuer set on
    the key, the public key from PEM, claims parsed with jiter (msgspec is not installed)."""
    if not _installed("ryjwt"):
        return None
    import ryjwt  # type: ignore[import-not-found]

    alg = [case.algorithm]
    key: Any
    if case.key.key_type == "oct":
        key = ryjwt.SecretKey(_secret(case), algorithms=alg, audience=AUDIENCE, issuer=ISSUER)
    else:
        key = ryjwt.PublicKey(public_pem(case), algorithms=alg, audience=AUDIENCE, issuer=ISSUER)
    token = case.token
    decode = key.decode
    return lambda: decode(token)


def webtoken_verify(case: Case) -> Verify | None:
    """webtoken: a Rust core behind PyJWT's decode(); the key parsed once as its PyJWK."""
    if not _installed("webtoken"):
        return None
    import webtoken

    if case.key.key_type == "oct":
        key: Any = _secret(case)
    else:
        key = webtoken.PyJWK.from_dict(case.public_jwk)
    token = case.token
    alg = [case.algorithm]
    return lambda: webtoken.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


def clasp_verify(case: Case) -> Verify | None:
    """clasp-jwt (module ``clasp``): Rust's jsonwebtoken with keys from PEM, claims returned as
    JSON text. It cannot be given an audience (jsonwebtoken then rejects any token carrying
    ``aud``), so it verifies the case's token without ``aud``, and ``iss`` is checked here."""
    if not _installed("clasp"):
        return None
    import clasp  # type: ignore[import-not-found]

    alg = case.algorithm
    if case.key.key_type == "oct":
        key = clasp.SymmetricKey(_secret(case), alg)
    elif case.key.key_type == "RSA":
        key = clasp.AsymmetricKey.from_rsa_pem(public_pem(case), alg)
    elif case.key.key_type == "EC":
        key = clasp.AsymmetricKey.from_ec_pem(public_pem(case), alg)
    else:
        key = clasp.AsymmetricKey.from_ed_pem(public_pem(case), alg)
    token = case.token_without_aud
    loads = json.loads

    def run() -> dict[str, Any]:
        claims: dict[str, Any] = loads(key.verify(token))
        if claims.get("iss") != ISSUER:
            raise ValueError("iss mismatch")
        return claims

    return run


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
    # Authlib 1.6+ deprecates authlib.jose in favour of joserfc; it is still what most Authlib
    # users verify with, so it is measured as it is. authlib.deprecate installs an "always"
    # filter for its warning when first imported, so it is imported before ours goes in front.
    import authlib.deprecate  # noqa: F401

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="authlib.jose module is deprecated")
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

    if case.algorithm == "EdDSA":
        raise Unavailable("python-jose does not support EdDSA")
    key = case.public_jwk
    token = case.token
    alg = [case.algorithm]
    return lambda: jjwt.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE)


def pyjwt_rs_verify(case: Case) -> Verify | None:
    """pyjwt-rs (module ``jwt_rs``): a Rust-backed PyJWT look-alike with the same decode()."""
    if not _installed("jwt_rs"):
        return None
    import jwt_rs  # type: ignore[import-not-found]

    key = jwt_rs.PyJWK.from_dict(case.public_jwk, algorithm=case.algorithm).key
    token = case.token
    alg = [case.algorithm]
    return lambda: dict(jwt_rs.decode(token, key, algorithms=alg, issuer=ISSUER, audience=AUDIENCE))


def rsjwt_verify(case: Case) -> Verify | None:
    """rsjwt: Rust's jsonwebtoken behind a small API (HMAC only, secret as str)."""
    if not _installed("rsjwt"):
        return None
    import rsjwt  # type: ignore[import-not-found]

    if not case.algorithm.startswith("HS"):
        raise Unavailable("rsjwt supports HS256/HS384/HS512 only")
    secret = case.key.to_dict(private=True)["k"]
    decoder = rsjwt.JWT(_b64url_decode(secret).decode(), algorithm=case.algorithm)
    token = case.token
    try:
        decoder.decode(token)
    except rsjwt.DecodeError as exc:
        # rsjwt exposes no issuer/audience settings, and jsonwebtoken then rejects any token
        # that carries "aud" -- as every realistic access token here does.
        reason = f"rsjwt cannot be given an audience, so it rejects this token ({exc})"
        raise Unavailable(reason) from exc

    def run() -> dict[str, Any]:
        claims = dict(decoder.decode(token))
        if claims.get("iss") != ISSUER or claims.get("aud") != AUDIENCE:
            raise ValueError("iss or aud mismatch")
        return claims

    return run


PEERS: dict[str, Callable[[Case], Verify | None]] = {
    "tokenward": tokenward_verify,
    "pyjwt": pyjwt_verify,
    "pyjwt-2.10": pyjwt_old_verify,
    "oxyjwt": oxyjwt_verify,
    "ryjwt": ryjwt_verify,
    "webtoken": webtoken_verify,
    "clasp-jwt": clasp_verify,
    "joserfc": joserfc_verify,
    "jwcrypto": jwcrypto_verify,
    "authlib": authlib_verify,
    "python-jose": python_jose_verify,
    "pyjwt-rs": pyjwt_rs_verify,
    "rsjwt": rsjwt_verify,
}

#: Peers that verify a different token from the others (what they cannot check, said in tables).
PEER_NOTES = {
    "clasp-jwt": "no audience setting: verifies the same claims without aud; iss checked in Python",
}

#: tokenward configurations measured beside the plain verifier (not peers: no peer ratio).
TOKENWARD_VARIANTS: dict[str, Callable[[Case], Verify | None]] = {
    "tokenward_cache": tokenward_cached_verify,
}
