"""Every native error code (errc) raises its own class from tokenward.exceptions.

The C++ side refuses to compile a code without a class (cpp/bindings/common.cpp); this test pins
which class each code gets, so a new code also needs its line here.
"""

from __future__ import annotations

import pytest

import tokenward as tw
from tokenward import _core, exceptions

EXPECTED: dict[str, type[Exception]] = {
    "malformed": exceptions.MalformedTokenError,
    "bad_signature": exceptions.InvalidSignatureError,
    "expired": exceptions.ExpiredTokenError,
    "immature": exceptions.ImmatureTokenError,
    "wrong_issuer": exceptions.InvalidIssuerError,
    "wrong_audience": exceptions.InvalidAudienceError,
    "missing_claim": exceptions.MissingClaimError,
    "invalid_claim": exceptions.InvalidClaimError,
    "key_not_found": exceptions.KeyNotFoundError,
    "unsupported_algorithm": exceptions.UnsupportedAlgorithmError,
    "invalid_key": exceptions.InvalidKeyError,
    "configuration": exceptions.ConfigurationError,
    "internal": exceptions.TokenwardError,
    "decryption_failed": exceptions.DecryptionError,
    "bad_password_hash": exceptions.PasswordHashError,
    "password_rejected": exceptions.WeakPasswordError,
}

TOKEN_FAULTS = {
    "malformed",
    "bad_signature",
    "expired",
    "immature",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "invalid_claim",
    "key_not_found",
    "unsupported_algorithm",
    "decryption_failed",
}


def test_every_code_has_its_expected_class() -> None:
    assert _core._error_classes() == EXPECTED


def test_classes_are_distinct() -> None:
    classes = list(_core._error_classes().values())
    assert len(set(classes)) == len(classes)


def test_only_internal_maps_to_the_base_class() -> None:
    for code, cls in _core._error_classes().items():
        assert issubclass(cls, tw.TokenwardError)
        assert (cls is tw.TokenwardError) == (code == "internal")


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_token_faults_are_invalid_token_errors(code: str) -> None:
    cls = _core._error_classes()[code]
    assert issubclass(cls, tw.InvalidTokenError) == (code in TOKEN_FAULTS)


def test_raised_classes_come_from_the_table() -> None:
    # A few codes raised for real, to tie the table to what the translator throws.
    with pytest.raises(_core._error_classes()["malformed"]):
        tw.unverified_header("not a token")
    with pytest.raises(_core._error_classes()["invalid_key"]):
        tw.JWK.from_json({"kty": "nope"})
    with pytest.raises(_core._error_classes()["configuration"]):
        tw.FieldCipher(b"too short")
    with pytest.raises(_core._error_classes()["decryption_failed"]):
        tw.FieldCipher(b"x" * 32).decrypt("tw1.AAAA")
