"""Known answers for the Ignis-compatible field formats (../shared/vectors/ignis/field_cipher.json).

Every ciphertext is reproduced byte for byte. The vectors fix the IV; the only way to do that is
the private test hook ``tokenward._core._field_encrypt_with_iv`` — the public API always draws a
fresh random IV.
"""

from __future__ import annotations

import base64
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import tokenward as tw
from tokenward import _core

VECTORS: Path = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "vectors"
    / "ignis"
    / "field_cipher.json"
)

if not VECTORS.is_file():
    pytest.skip(
        "Ignis vectors not found: expected ../shared/vectors/ignis next to the repository root",
        allow_module_level=True,
    )


@cache
def doc() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text("utf-8"))
    return data


def iv() -> bytes:
    return bytes.fromhex(doc()["iv_hex"])


@cache
def legacy() -> tw.FieldCipher:
    return tw.FieldCipher.ignis_legacy(doc()["secret"])


@cache
def v3() -> tw.FieldCipher:
    section = doc()["v3_envelope_cbc"]
    return tw.FieldCipher.ignis_v3({section["key_id"]: doc()["secret"]}, "aes-256-cbc")


def _cases(section: str) -> list[Any]:
    if not VECTORS.is_file():  # collection only; the module is skipped then
        return []
    cases: list[dict[str, str]] = doc()[section]["cases"]
    return [pytest.param(c, id=f"{section}-{i}-{c['plaintext']}") for i, c in enumerate(cases)]


# --- keys ---------------------------------------------------------------------------------------


def test_legacy_key_rule() -> None:
    """'0'-padded to 32 bytes: checked against the key the vectors give."""
    secret = doc()["secret"].encode()
    assert (secret + b"0" * 32)[:32] == bytes.fromhex(doc()["legacy_cbc"]["key_hex"])


def test_v3_key_derivation() -> None:
    """PBKDF2-HMAC-SHA256(secret, 'ignis-kdf-salt-v1', 100000, 32) through the core's PBKDF2."""
    key = _core._pbkdf2_sha256(doc()["secret"].encode(), b"ignis-kdf-salt-v1", 100000, 32)
    assert key == bytes.fromhex(doc()["v3_envelope_cbc"]["key_hex"])
    assert "100000 iterations" in doc()["v3_envelope_cbc"]["scheme"]
    assert "'ignis-kdf-salt-v1'" in doc()["v3_envelope_cbc"]["scheme"]


def test_legacy_key_through_the_cbc_primitive() -> None:
    key = bytes.fromhex(doc()["legacy_cbc"]["key_hex"])
    for case in doc()["legacy_cbc"]["cases"]:
        raw = base64.b64decode(case["ciphertext"], validate=True)
        assert raw[:16] == iv()
        assert _core._aes_cbc_decrypt(key, raw[:16], raw[16:]) == case["plaintext"].encode()


# --- ciphertexts ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases("legacy_cbc"))
def test_legacy_encrypt(case: dict[str, str]) -> None:
    assert _core._field_encrypt_with_iv(legacy(), case["plaintext"], iv()) == case["ciphertext"]


@pytest.mark.parametrize("case", _cases("legacy_cbc"))
def test_legacy_decrypt(case: dict[str, str]) -> None:
    assert legacy().decrypt(case["ciphertext"]) == case["plaintext"].encode()


@pytest.mark.parametrize("case", _cases("v3_envelope_cbc"))
def test_v3_encrypt(case: dict[str, str]) -> None:
    assert _core._field_encrypt_with_iv(v3(), case["plaintext"], iv()) == case["ciphertext"]


@pytest.mark.parametrize("case", _cases("v3_envelope_cbc"))
def test_v3_decrypt(case: dict[str, str]) -> None:
    assert v3().decrypt(case["ciphertext"]) == case["plaintext"].encode()


@pytest.mark.parametrize("case", _cases("v3_envelope_cbc"))
def test_v3_envelope_layout(case: dict[str, str]) -> None:
    raw = base64.b64decode(case["ciphertext"], validate=True)
    key_id = doc()["v3_envelope_cbc"]["key_id"].encode()
    assert raw[0] == 0x01
    assert raw[1] == len(key_id)
    assert raw[2 : 2 + len(key_id)] == key_id
    assert raw[2 + len(key_id) : 18 + len(key_id)] == iv()


def test_random_iv_when_not_fixed() -> None:
    """Outside the hook two encryptions never share an IV, even of the same plaintext."""
    seen = {base64.b64decode(legacy().encrypt("userId"))[:16] for _ in range(50)}
    assert len(seen) == 50
    assert iv() not in seen


def test_hook_checks_the_iv_size() -> None:
    with pytest.raises(tw.ConfigurationError):
        _core._field_encrypt_with_iv(legacy(), "userId", iv()[:12])


# --- payload rules ------------------------------------------------------------------------------


def test_the_rules_are_the_ones_tested_here() -> None:
    """Four rules; each has a test below. A new rule in the vectors must get one too."""
    assert len(doc()["payload_rules"]) == 4


def test_rule_registered_claims_stay_in_plaintext() -> None:
    assert "iss, sub, aud, jti, nbf, exp, iat" in doc()["payload_rules"][0]
    claims = {"iss": "i", "sub": "s", "aud": "a", "jti": "j", "nbf": 1, "exp": 2, "iat": 1}
    assert legacy().encrypt_claims(claims) == claims
    assert v3().encrypt_claims(claims) == claims


def test_rule_name_and_value_encrypted_separately_each_with_a_fresh_iv() -> None:
    assert "fresh IV" in doc()["payload_rules"][1]
    out = legacy().encrypt_claims({"sub": "s", "userId": "42", "email": "a@b"})
    pairs = [(k, v) for k, v in out.items() if k != "sub"]
    assert len(pairs) == 2
    ivs = [base64.b64decode(t)[:16] for pair in pairs for t in pair]
    assert len(set(ivs)) == 4
    assert {legacy().decrypt(k): legacy().decrypt(v) for k, v in pairs} == {
        b"userId": b"42",
        b"email": b"a@b",
    }


def test_rule_null_members_are_skipped() -> None:
    assert "null" in doc()["payload_rules"][2]
    assert legacy().encrypt_claims({"sub": "s", "nothing": None}) == {"sub": "s"}


def test_rule_roles_as_id_identifier_priority_strings() -> None:
    rule = doc()["payload_rules"][3]
    assert "id|identifier|priority" in rule
    roles_case = next(c for c in doc()["legacy_cbc"]["cases"] if "|" in c["plaintext"])
    roles = [{"id": "1", "identifier": "admin", "priority": 0}]
    # writing: the roles value is exactly the vector's plaintext
    out = legacy().encrypt_claims({"roles": roles})
    ((name, value),) = out.items()
    assert legacy().decrypt(name) == b"roles"
    assert legacy().decrypt(value) == roles_case["plaintext"].encode()
    # reading: the vector's ciphertext, under an encrypted 'roles' name, becomes the role objects
    name = _core._field_encrypt_with_iv(legacy(), "roles", iv())
    assert legacy().decrypt_claims({name: roles_case["ciphertext"]}) == {"roles": roles}


def test_rule_legacy_values_as_their_string_form() -> None:
    out = legacy().decrypt_claims(legacy().encrypt_claims({"userId": 42, "ok": True}))
    assert out == {"userId": "42", "ok": "true"}
