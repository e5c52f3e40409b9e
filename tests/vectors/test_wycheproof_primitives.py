"""Wycheproof known-answer tests for the signature and MAC primitives under JWS.

Signatures go through ``tokenward._core._verify_raw(alg, key, msg, sig)``: a "valid" case must
return True; an "invalid" case must return False or raise ``tw.TokenwardError`` (a group key
that tokenward refuses at import also counts as a rejection, but only for invalid cases).
MACs go through ``tokenward._core._hmac(alg, key, msg)``, truncated to the group's tagSize:
valid exactly when it equals the vector's tag.

Keys come from the group's JWK (publicKeyJwk / keyJwk). The last nine groups of each ECDSA
file (tcIds flagged ValidSignature / ArithmeticError) carry no JWK; those use publicKeyPem, and
test_group_jwk_and_pem_agree checks that the PEM and JWK forms agree wherever both exist.
"""

from __future__ import annotations

from typing import Any

import _wycheproof as W
import pytest

if not W.available():
    pytest.skip(W.MISSING_REASON, allow_module_level=True)

import tokenward as tw
from tokenward import _core

HASH_BYTES = {"SHA-256": 32, "SHA-384": 48, "SHA-512": 64}

# file stem -> JWS algorithm, and the hash the file must use for it.
ECDSA_FILES = {
    "ecdsa_secp256r1_sha256_p1363_test": ("ES256", "SHA-256"),
    "ecdsa_secp384r1_sha384_p1363_test": ("ES384", "SHA-384"),
    "ecdsa_secp521r1_sha512_p1363_test": ("ES512", "SHA-512"),
}
EDDSA_FILES = {"ed25519_test": ("EdDSA", None)}
PSS_FILES = {
    "rsa_pss_2048_sha256_mgf1_32_test": ("PS256", "SHA-256"),
    "rsa_pss_4096_sha512_mgf1_64_test": ("PS512", "SHA-512"),
}
# RSASSA-PKCS1-v1_5: the algorithm follows each group's "sha".
PKCS1_FILES = [
    "rsa_signature_2048_sha256_test",
    "rsa_signature_2048_sha384_test",
    "rsa_signature_2048_sha512_test",
    "rsa_signature_3072_sha256_test",
    "rsa_signature_4096_sha256_test",
    "rsa_signature_4096_sha512_test",
]
PKCS1_ALGORITHMS = {"SHA-256": "RS256", "SHA-384": "RS384", "SHA-512": "RS512"}
HMAC_FILES = {
    "hmac_sha256_test": ("HS256", 32),
    "hmac_sha384_test": ("HS384", 48),
    "hmac_sha512_test": ("HS512", 64),
}

# "acceptable" cases, by flag: what we decided tokenward does, and why. Each decision is pinned
# (the test asserts it), so a change of behaviour is seen and the decision revisited.
#   "reject": False or TokenwardError; "accept": True; "either": any of them.
ACCEPTABLE: dict[str, tuple[str, str]] = {
    "MissingNull": (
        "reject",
        "a PKCS#1 v1.5 DigestInfo whose hash AlgorithmIdentifier omits the NULL parameters. "
        "RFC 8017 9.2 note 1 gives the one DER encoding with NULL, and RS256/384/512 (RFC 7518 "
        "3.3) use RSASSA-PKCS1-v1_5 as RFC 8017 defines it; a verifier that rebuilds the "
        "encoding and compares (OpenSSL's) rejects the legacy form. Accepting would not be a "
        "forgery risk, so Wycheproof allows both; we pin tokenward's rejection.",
    ),
}

SIGNATURE_FILES = [*ECDSA_FILES, *EDDSA_FILES, *PSS_FILES, *PKCS1_FILES]
ALL_FILES = [*SIGNATURE_FILES, *HMAC_FILES]


def _params(stems: list[str]) -> list[Any]:
    return [
        pytest.param(case, id=f"{case.stem}-tc{case.tc_id}")
        for stem in stems
        for case in W.cases(stem)
    ]


def _algorithm(case: W.Case) -> str:
    group = case.group
    if case.stem in PKCS1_FILES:
        return PKCS1_ALGORITHMS[group["sha"]]
    alg, sha = {**ECDSA_FILES, **EDDSA_FILES, **PSS_FILES}[case.stem]
    if sha is not None:
        assert group["sha"] == sha, f"{case.stem}: group hash {group['sha']}, expected {sha}"
    if case.stem in PSS_FILES:
        # JWS PSS: MGF1 with the message hash, salt as long as the hash (RFC 7518 3.5).
        assert group["mgf"] == "MGF1" and group["mgfSha"] == sha
        assert group["sLen"] == HASH_BYTES[sha]
    return alg


def _group_key(case: W.Case) -> tw.JWK:
    group = case.group
    jwk = group.get("publicKeyJwk") or group.get("keyJwk")
    if jwk is not None:
        return tw.JWK.from_json(jwk)
    return tw.JWK.from_pem(group["publicKeyPem"])


def _outcome(case: W.Case, key: tw.JWK | None = None) -> bool | tw.TokenwardError:
    """True/False from the primitive, or the TokenwardError raised (import or verify). The key
    is the group's, imported afresh unless given."""
    alg = _algorithm(case)
    message = bytes.fromhex(case.test["msg"])
    signature = bytes.fromhex(case.test["sig"])
    try:
        key = key if key is not None else _group_key(case)
    except tw.TokenwardError as exc:
        return exc
    try:
        return _core._verify_raw(alg, key, message, signature)
    except tw.TokenwardError as exc:
        return exc


SIGNATURE_PARAMS = _params(SIGNATURE_FILES)
HMAC_PARAMS = _params(list(HMAC_FILES))


def _check_signature_outcome(case: W.Case, outcome: bool | tw.TokenwardError) -> None:
    if case.result == "valid":
        assert outcome is True, f"valid signature not accepted: {outcome!r}"
    elif case.result == "invalid":
        assert outcome is False or isinstance(outcome, tw.TokenwardError), (
            f"invalid signature accepted: {outcome!r}"
        )
    else:
        assert case.result == "acceptable", f"unexpected result {case.result!r}"
        undecided = [flag for flag in case.flags if flag not in ACCEPTABLE]
        assert case.flags and not undecided, f"no decision for acceptable flags {undecided}"
        accepted = outcome is True
        for flag in case.flags:
            decision = ACCEPTABLE[flag][0]
            assert decision != "reject" or not accepted, f"{flag}: decided reject, got {outcome!r}"
            assert decision != "accept" or accepted, f"{flag}: decided accept, got {outcome!r}"


@pytest.mark.parametrize("case", SIGNATURE_PARAMS)
def test_signature(case: W.Case) -> None:
    _check_signature_outcome(case, _outcome(case))


@pytest.mark.parametrize("stem", SIGNATURE_FILES)
def test_signature_one_key_per_group(stem: str) -> None:
    # A key keeps prepared verification contexts between checks (a context goes back after a
    # good signature, is dropped after a bad one). Every case of a group, twice over, through
    # one imported key must get the answer test_signature asks of a fresh key.
    groups: dict[int, list[W.Case]] = {}
    for case in W.cases(stem):
        groups.setdefault(case.group_index, []).append(case)
    for cases in groups.values():
        try:
            key = _group_key(cases[0])
        except tw.TokenwardError:
            continue  # test_signature covers groups whose key tokenward refuses
        for case in [*cases, *cases]:
            _check_signature_outcome(case, _outcome(case, key))


@pytest.mark.parametrize("case", HMAC_PARAMS)
def test_hmac(case: W.Case) -> None:
    alg, full_size = HMAC_FILES[case.stem]
    key = bytes.fromhex(case.test["key"])
    message = bytes.fromhex(case.test["msg"])
    tag = bytes.fromhex(case.test["tag"])
    mac = _core._hmac(alg, key, message)
    assert len(mac) == full_size
    computed = mac[: case.group["tagSize"] // 8]
    if case.result == "valid":
        assert computed == tag
    else:
        assert case.result == "invalid", f"unexpected result {case.result!r}"
        assert computed != tag


@pytest.mark.parametrize("stem", ALL_FILES)
def test_case_count(stem: str) -> None:
    run = [param.values[0] for param in (*SIGNATURE_PARAMS, *HMAC_PARAMS)]
    tc_ids = [case.tc_id for case in run if case.stem == stem]
    assert len(tc_ids) == W.load(stem)["numberOfTests"]
    assert len(set(tc_ids)) == len(tc_ids)


def _groups_with_jwk_and_pem() -> list[Any]:
    params = []
    for stem in SIGNATURE_FILES:
        for index, group in enumerate(W.load(stem)["testGroups"]):
            jwk = group.get("publicKeyJwk") or group.get("keyJwk")
            if jwk is not None and "publicKeyPem" in group:
                params.append(pytest.param(jwk, group["publicKeyPem"], id=f"{stem}-g{index}"))
    return params


@pytest.mark.parametrize(("jwk", "pem"), _groups_with_jwk_and_pem())
def test_group_jwk_and_pem_agree(jwk: dict[str, Any], pem: str) -> None:
    # The PEM form stands in for the JWK in groups without one; where both exist they must
    # import as the same public key.
    try:
        from_jwk = tw.JWK.from_json(jwk)
    except tw.TokenwardError:
        with pytest.raises(tw.TokenwardError):
            tw.JWK.from_pem(pem)
        return
    assert tw.JWK.from_pem(pem).thumbprint() == from_jwk.thumbprint()
