"""Wycheproof known-answer tests for the primitives under FieldCipher.

* ``aes_gcm_test``: ``_core._aes_gcm_decrypt(key, iv, aad, ct, tag)``; a valid case must return
  the message (and ``_core._aes_gcm_encrypt`` must return ct || tag); an invalid case must raise
  ``tw.TokenwardError`` (``DecryptionError`` for a bad tag) or return something else. IVs longer
  than OpenSSL takes (over 128 bytes) are folded to an equivalent 16-byte IV by the core.
* ``aes_cbc_pkcs5_test``: ``_core._aes_cbc_decrypt`` / ``_core._aes_cbc_encrypt`` with PKCS#7.
* ``hkdf_sha256_test``: ``_core._hkdf_sha256(ikm, salt, info, size)``.
* ``pbkdf2_hmacsha256_test``: ``_core._pbkdf2_sha256(password, salt, iterations, size)``.
"""

from __future__ import annotations

from collections.abc import Callable

import _wycheproof as W
import pytest

if not W.available():
    pytest.skip(W.MISSING_REASON, allow_module_level=True)

import tokenward as tw
from tokenward import _core

FILES = ("aes_gcm_test", "aes_cbc_pkcs5_test", "hkdf_sha256_test", "pbkdf2_hmacsha256_test")

# "acceptable" cases: what tokenward does with each, by (file, tcId), and why. None of the four
# files has any today; test_no_undecided_acceptable_cases fails when a new file version adds one,
# so that the decision is made and written here.
#   "reject": raises TokenwardError or returns a different value; "accept": the vector's output.
ACCEPTABLE: dict[tuple[str, int], tuple[str, str]] = {}


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def _outcome(run: Callable[[], bytes], expected: bytes) -> bool:
    """Whether the primitive produced exactly `expected` (False when it raised)."""
    try:
        return run() == expected
    except tw.TokenwardError:
        return False


def _check(case: W.Case, produced_expected: bool) -> None:
    decision = ACCEPTABLE.get((case.stem, case.tc_id))
    if case.result == "valid" or (decision and decision[0] == "accept"):
        assert produced_expected, (
            f"tcId {case.tc_id} ({case.comment}): expected the vector's output"
        )
    else:
        assert not produced_expected, f"tcId {case.tc_id} ({case.comment}): must be rejected"


def _params(stem: str) -> list[W.Case]:
    return W.cases(stem) if W.available() else []


def _id(case: W.Case) -> str:
    return f"{case.stem}-{case.tc_id}"


# --- AES-GCM --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("aes_gcm_test"), ids=_id)
def test_aes_gcm(case: W.Case) -> None:
    t = case.test
    key, iv, aad, msg, ct, tag = (h(t[k]) for k in ("key", "iv", "aad", "msg", "ct", "tag"))
    assert case.group["tagSize"] == 128
    opened = _outcome(lambda: _core._aes_gcm_decrypt(key, iv, aad, ct, tag), msg)
    _check(case, opened)
    if case.result == "valid":
        assert _core._aes_gcm_encrypt(key, iv, aad, msg) == ct + tag
    elif "ModifiedTag" in case.flags:
        with pytest.raises(tw.DecryptionError):
            _core._aes_gcm_decrypt(key, iv, aad, ct, tag)
    elif "ZeroLengthIv" in case.flags:
        with pytest.raises(tw.TokenwardError):
            _core._aes_gcm_encrypt(key, iv, aad, msg)


# --- AES-CBC with PKCS#5/7 padding ----------------------------------------------------------------


@pytest.mark.parametrize("case", _params("aes_cbc_pkcs5_test"), ids=_id)
def test_aes_cbc_pkcs5(case: W.Case) -> None:
    t = case.test
    key, iv, msg, ct = (h(t[k]) for k in ("key", "iv", "msg", "ct"))
    opened = _outcome(lambda: _core._aes_cbc_decrypt(key, iv, ct), msg)
    _check(case, opened)
    if case.result == "valid":
        assert _core._aes_cbc_encrypt(key, iv, msg) == ct
    else:
        # every invalid case is a padding error or a missing pad block: one error, one message
        with pytest.raises(tw.DecryptionError, match=r"^field decryption failed$"):
            _core._aes_cbc_decrypt(key, iv, ct)


# --- HKDF-SHA256 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("hkdf_sha256_test"), ids=_id)
def test_hkdf_sha256(case: W.Case) -> None:
    t = case.test
    ikm, salt, info, okm = (h(t[k]) for k in ("ikm", "salt", "info", "okm"))
    derived = _outcome(lambda: _core._hkdf_sha256(ikm, salt, info, t["size"]), okm)
    _check(case, derived)
    if "SizeTooLarge" in case.flags:
        with pytest.raises(tw.ConfigurationError):
            _core._hkdf_sha256(ikm, salt, info, t["size"])


# --- PBKDF2-HMAC-SHA256 ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("pbkdf2_hmacsha256_test"), ids=_id)
def test_pbkdf2_hmac_sha256(case: W.Case) -> None:
    t = case.test
    password, salt, dk = (h(t[k]) for k in ("password", "salt", "dk"))
    derived = _outcome(
        lambda: _core._pbkdf2_sha256(password, salt, t["iterationCount"], t["dkLen"]), dk
    )
    _check(case, derived)


# --- bookkeeping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", FILES)
def test_every_case_is_collected(stem: str) -> None:
    assert len(W.cases(stem)) == W.load(stem)["numberOfTests"]


@pytest.mark.parametrize("stem", FILES)
def test_no_undecided_acceptable_cases(stem: str) -> None:
    undecided = [
        c.tc_id
        for c in W.cases(stem)
        if c.result == "acceptable" and (stem, c.tc_id) not in ACCEPTABLE
    ]
    assert undecided == []


def test_primitive_argument_checks() -> None:
    with pytest.raises(tw.ConfigurationError):
        _core._aes_gcm_decrypt(bytes(15), bytes(12), b"", b"", bytes(16))
    with pytest.raises(tw.ConfigurationError):
        _core._aes_cbc_decrypt(bytes(32), bytes(12), bytes(16))
    with pytest.raises(tw.DecryptionError):
        _core._aes_gcm_decrypt(bytes(32), bytes(12), b"", b"", bytes(15))
    with pytest.raises(tw.ConfigurationError):
        _core._hkdf_sha256(b"k", b"", b"", 0)
    with pytest.raises(tw.ConfigurationError):
        _core._pbkdf2_sha256(b"p", b"s", 0, 32)
