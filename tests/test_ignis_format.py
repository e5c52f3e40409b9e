"""The Ignis field formats, as facts kept in the project: known answers that run without ../shared.

These are the key, IV, plaintexts and ciphertexts of ../shared/vectors/ignis/field_cipher.json,
written out here because they are facts about Ignis's format that tokenward must keep matching;
tests/vectors/test_ignis_vectors.py reads the same file and checks its rules as well, when it
is there. The IV is fixed through the private hook ``_core._field_encrypt_with_iv`` (the public
API always draws a fresh one).
"""

from __future__ import annotations

import base64

import pytest

import tokenward as tw
from tokenward import _core

SECRET = "my-app-secret"
IV = bytes(range(16))  # 000102030405060708090a0b0c0d0e0f

# legacy: AES-256-CBC, key = the UTF-8 secret right-padded with ASCII '0' to 32 bytes
LEGACY_KEY = bytes.fromhex("6d792d6170702d73656372657430303030303030303030303030303030303030")
LEGACY = [
    ("userId", "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc="),
    ('["1|admin|0"]', "AAECAwQFBgcICQoLDA0OD4Thm4Q63AHdtCqONCd4t7w="),
]

# v3 envelope: key = PBKDF2-HMAC-SHA256(secret, 'ignis-kdf-salt-v1', 100000, 32);
# base64(0x01 || len(key_id) || key_id || iv16 || ciphertext) for aes-256-cbc
V3_KEY = bytes.fromhex("70eb21d8738f5ce9839048432be75dea0b56676353929e6133882ade121a29d3")
V3_KEY_ID = "0"
V3 = [("userId", "AQEwAAECAwQFBgcICQoLDA0OD3IPze6va/fklVJkiLMEkKc=")]


def legacy() -> tw.FieldCipher:
    return tw.FieldCipher.ignis_legacy(SECRET)


def v3() -> tw.FieldCipher:
    return tw.FieldCipher.ignis_v3({V3_KEY_ID: SECRET}, "aes-256-cbc")


def test_legacy_key_is_the_zero_padded_secret() -> None:
    assert (SECRET.encode() + b"0" * 32)[:32] == LEGACY_KEY


def test_v3_key_is_pbkdf2_of_the_secret() -> None:
    assert _core._pbkdf2_sha256(SECRET.encode(), b"ignis-kdf-salt-v1", 100000, 32) == V3_KEY


@pytest.mark.parametrize(("plaintext", "ciphertext"), LEGACY)
def test_legacy_known_answers(plaintext: str, ciphertext: str) -> None:
    assert _core._field_encrypt_with_iv(legacy(), plaintext, IV) == ciphertext
    assert legacy().decrypt(ciphertext) == plaintext.encode()
    raw = base64.b64decode(ciphertext, validate=True)
    assert raw[:16] == IV
    assert _core._aes_cbc_decrypt(LEGACY_KEY, IV, raw[16:]) == plaintext.encode()


@pytest.mark.parametrize(("plaintext", "ciphertext"), V3)
def test_v3_known_answers(plaintext: str, ciphertext: str) -> None:
    assert _core._field_encrypt_with_iv(v3(), plaintext, IV) == ciphertext
    assert v3().decrypt(ciphertext) == plaintext.encode()
    raw = base64.b64decode(ciphertext, validate=True)
    key_id = V3_KEY_ID.encode()
    assert raw[0] == 0x01
    assert raw[1] == len(key_id)
    assert raw[2 : 2 + len(key_id)] == key_id
    body = raw[2 + len(key_id) :]
    assert body[:16] == IV
    assert _core._aes_cbc_decrypt(V3_KEY, IV, body[16:]) == plaintext.encode()


def test_a_changed_byte_does_not_decrypt_to_the_plaintext() -> None:
    raw = bytearray(base64.b64decode(LEGACY[0][1]))
    raw[-1] ^= 0x01
    try:
        out = legacy().decrypt(base64.b64encode(bytes(raw)))
    except tw.TokenwardError:
        return  # the usual answer: the padding no longer checks out
    assert out != LEGACY[0][0].encode()  # CBC has no tag: other bytes at worst, never the same


def test_the_other_scheme_does_not_read_it() -> None:
    with pytest.raises(tw.TokenwardError):
        v3().decrypt(LEGACY[0][1])
