"""FieldCipher: the tw1 format, Ignis modes, claims encryption, key rotation and token integration.

Known answers for the Ignis formats live in tests/vectors/test_ignis_vectors.py and the primitive
known-answer tests in tests/vectors/test_wycheproof_aead.py.
"""

from __future__ import annotations

import base64
import math
import string
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tokenward as tw
from tokenward import _core

SECRET = "an application secret of at least 32 bytes"
OTHER_SECRET = b"a different secret, also long enough to use"
REGISTERED = ("iss", "sub", "aud", "jti", "nbf", "exp", "iat")
URL_SAFE = set(string.ascii_letters + string.digits + "-_.")

# The documented tw1 constants (docs/field-encryption.md).
TW1_SALT = b"tokenward/field-cipher/v1"
TW1_INFO_PREFIX = b"tw1/aes-256-gcm/"

# PBKDF2 with 100 000 iterations takes a while: build the Ignis v3 ciphers once.
_IGNIS_V3: dict[str, tw.FieldCipher] = {}


def ignis_v3(algorithm: str = "aes-256-cbc") -> tw.FieldCipher:
    if algorithm not in _IGNIS_V3:
        _IGNIS_V3[algorithm] = tw.FieldCipher.ignis_v3({"k1": "ignis-secret"}, algorithm)
    return _IGNIS_V3[algorithm]


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tw1_parts(text: str) -> tuple[bytes, bytes, bytes, bytes]:
    """Split a tw1 ciphertext into (header, nonce, ciphertext, tag) by the documented layout."""
    assert text.startswith("tw1.")
    body = b64url_decode(text[4:])
    header = body[: 1 + body[0]]
    rest = body[len(header) :]
    return header, rest[:12], rest[12:-16], rest[-16:]


def tw1_key(secret: bytes, key_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=TW1_SALT,
        info=TW1_INFO_PREFIX + key_id.encode(),
    ).derive(secret)


def strictly_equal(a: Any, b: Any) -> bool:
    """Equality that also compares types (True != 1, 1.0 != 1) and the sign of zero."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list):
        return len(a) == len(b) and all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def expected_after_round_trip(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if v is not None or k in REGISTERED}


# ---------------------------------------------------------------------------------------------
# Construction


class TestConstruction:
    def test_single_secret_gets_key_id_zero(self) -> None:
        c = tw.FieldCipher(SECRET)
        assert c.scheme == "tw1-aes-256-gcm"
        assert c.key_ids == ["0"]
        assert c.primary_key_id == "0"

    def test_bytes_and_str_secrets_are_the_same_key(self) -> None:
        text = tw.FieldCipher(SECRET).encrypt("x")
        assert tw.FieldCipher(SECRET.encode()).decrypt(text) == b"x"

    @pytest.mark.parametrize("secret", ["", "x" * 31, b"y" * 31])
    def test_short_secret_is_refused(self, secret: str | bytes) -> None:
        with pytest.raises(tw.ConfigurationError, match="32 bytes"):
            tw.FieldCipher(secret)

    def test_short_secret_in_a_ring_is_refused(self) -> None:
        with pytest.raises(tw.ConfigurationError):
            tw.FieldCipher({"a": SECRET, "b": "short"}, primary="a")

    def test_exactly_32_bytes_is_enough(self) -> None:
        tw.FieldCipher("z" * 32)

    def test_ring_needs_a_primary_when_it_has_several_keys(self) -> None:
        with pytest.raises(tw.ConfigurationError, match="primary"):
            tw.FieldCipher({"a": SECRET, "b": OTHER_SECRET})

    def test_ring_with_one_key_needs_no_primary(self) -> None:
        assert tw.FieldCipher({"only": SECRET}).primary_key_id == "only"

    def test_primary_must_be_in_the_ring(self) -> None:
        with pytest.raises(tw.ConfigurationError):
            tw.FieldCipher({"a": SECRET}, primary="b")

    def test_primary_with_a_single_secret_is_refused(self) -> None:
        with pytest.raises(tw.ConfigurationError):
            tw.FieldCipher(SECRET, primary="0")

    @pytest.mark.parametrize("key_id", ["", "k" * 256])
    def test_key_id_length(self, key_id: str) -> None:
        with pytest.raises(tw.ConfigurationError):
            tw.FieldCipher({key_id: SECRET})

    def test_key_id_of_255_bytes(self) -> None:
        c = tw.FieldCipher({"k" * 255: SECRET})
        assert c.decrypt(c.encrypt("v")) == b"v"

    def test_key_ids_must_be_str(self) -> None:
        with pytest.raises(TypeError):
            tw.FieldCipher({1: SECRET})  # type: ignore[dict-item]

    def test_secret_type(self) -> None:
        with pytest.raises(TypeError):
            tw.FieldCipher(12345678901234567890123456789012345)  # type: ignore[arg-type]

    def test_ignis_legacy_refuses_an_empty_secret(self) -> None:
        with pytest.raises(tw.ConfigurationError):
            tw.FieldCipher.ignis_legacy("")

    def test_ignis_legacy_takes_a_short_secret(self) -> None:
        c = tw.FieldCipher.ignis_legacy("short")
        assert c.scheme == "ignis-legacy-aes-256-cbc"
        assert c.key_ids == []
        assert c.primary_key_id is None

    def test_ignis_v3_algorithm_is_checked(self) -> None:
        with pytest.raises(tw.ConfigurationError, match="aes-256"):
            tw.FieldCipher.ignis_v3({"1": "s"}, "aes-128-cbc")

    def test_ignis_v3_needs_a_mapping(self) -> None:
        with pytest.raises(TypeError):
            tw.FieldCipher.ignis_v3("secret")  # type: ignore[arg-type]

    def test_ignis_v3_schemes(self) -> None:
        assert ignis_v3().scheme == "ignis-v3-aes-256-cbc"
        assert ignis_v3("aes-256-gcm").scheme == "ignis-v3-aes-256-gcm"
        assert ignis_v3().key_ids == ["k1"]

    def test_repr_never_shows_the_secret(self) -> None:
        c = tw.FieldCipher({"2024": SECRET})
        assert SECRET not in repr(c)
        assert "2024" in repr(c)
        assert "tw1" in repr(c)

    def test_decryption_error_is_an_invalid_token_error(self) -> None:
        assert issubclass(tw.DecryptionError, tw.InvalidTokenError)
        assert tw.DecryptionError is tw.exceptions.DecryptionError
        assert "DecryptionError" in tw.__all__
        assert "FieldCipher" in tw.__all__


# ---------------------------------------------------------------------------------------------
# The tw1 format, checked against an independent implementation (pyca/cryptography)


class TestTw1Format:
    def test_layout_and_alphabet(self) -> None:
        c = tw.FieldCipher({"key-7": SECRET})
        text = c.encrypt("hello")
        assert set(text) <= URL_SAFE
        header, nonce, ct, tag = tw1_parts(text)
        assert header == b"\x05key-7"
        assert len(nonce) == 12
        assert len(ct) == len("hello")
        assert len(tag) == 16

    def test_documented_key_derivation_and_aad(self) -> None:
        c = tw.FieldCipher({"key-7": SECRET})
        header, nonce, ct, tag = tw1_parts(c.encrypt("hello"))
        key = tw1_key(SECRET.encode(), "key-7")
        assert AESGCM(key).decrypt(nonce, ct + tag, b"tw1." + header) == b"hello"

    def test_claim_contexts(self) -> None:
        c = tw.FieldCipher(SECRET)
        out = c.encrypt_claims({"email": "a@example.com"})
        ((name_ct, value_ct),) = out.items()
        key = tw1_key(SECRET.encode(), "0")
        header, nonce, ct, tag = tw1_parts(name_ct)
        assert AESGCM(key).decrypt(nonce, ct + tag, b"tw1." + header + b"name") == b"email"
        header, nonce, ct, tag = tw1_parts(value_ct)
        aad = b"tw1." + header + b"value:email"
        assert AESGCM(key).decrypt(nonce, ct + tag, aad) == b'"a@example.com"'

    def test_reads_what_an_independent_writer_produced(self) -> None:
        key = tw1_key(SECRET.encode(), "0")
        header = b"\x010"
        nonce = bytes(12)
        sealed = AESGCM(key).encrypt(nonce, b"from elsewhere", b"tw1." + header)
        assert tw.FieldCipher(SECRET).decrypt("tw1." + b64url_encode(header + nonce + sealed)) == (
            b"from elsewhere"
        )

    def test_key_id_changes_the_key(self) -> None:
        text = tw.FieldCipher({"a": SECRET}).encrypt("v")
        with pytest.raises(tw.DecryptionError):
            tw.FieldCipher({"b": SECRET}).decrypt(text)

    def test_fresh_nonce_every_time(self) -> None:
        c = tw.FieldCipher(SECRET)
        texts = {c.encrypt("same") for _ in range(200)}
        assert len(texts) == 200
        assert len({tw1_parts(t)[1] for t in texts}) == 200

    def test_bytes_plaintext(self) -> None:
        c = tw.FieldCipher(SECRET)
        data = bytes(range(256))
        assert c.decrypt(c.encrypt(data)) == data
        assert c.decrypt(c.encrypt(b"")) == b""

    def test_fixed_iv_hook_reproduces_and_is_private(self) -> None:
        c = tw.FieldCipher(SECRET)
        a = _core._field_encrypt_with_iv(c, "v", bytes(12))
        assert a == _core._field_encrypt_with_iv(c, "v", bytes(12))
        assert c.decrypt(a) == b"v"
        assert not any(
            "iv" in name.lower() for name in dir(tw.FieldCipher) if not name.startswith("_")
        )
        with pytest.raises(tw.ConfigurationError):
            _core._field_encrypt_with_iv(c, "v", bytes(16))


# ---------------------------------------------------------------------------------------------
# Failures: one error type, one message


def flip(text: str, index: int) -> str:
    """Flip one bit of the binary body of a tw1 ciphertext, keeping it canonical base64url."""
    body = bytearray(b64url_decode(text[4:]))
    body[index] ^= 0x01
    return "tw1." + b64url_encode(bytes(body))


class TestFailures:
    def test_every_tampered_byte_is_caught(self) -> None:
        c = tw.FieldCipher({"kid": SECRET})
        text = c.encrypt("secret value")
        size = len(b64url_decode(text[4:]))
        messages = set()
        for i in range(size):
            with pytest.raises(tw.DecryptionError) as info:
                c.decrypt(flip(text, i))
            messages.add(str(info.value))
        assert messages == {"field decryption failed"}

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda t: t[:-1],
            lambda t: t[:-4],
            lambda t: t[:20],
            lambda t: "tw1.",
            lambda t: "",
            lambda t: t[4:],
            lambda t: "tw2." + t[4:],
            lambda t: t + "=",
            lambda t: t + "A",
            lambda t: t.replace("tw1.", "TW1."),
            lambda t: t[:10] + "+" + t[11:],
            lambda t: t + " ",
        ],
    )
    def test_malformed_and_truncated(self, mangle: Any) -> None:
        c = tw.FieldCipher(SECRET)
        text = c.encrypt("value")
        with pytest.raises(tw.DecryptionError, match=r"^field decryption failed$"):
            c.decrypt(mangle(text))

    def test_non_canonical_base64url_is_refused(self) -> None:
        c = tw.FieldCipher(SECRET)
        # choose a body whose length leaves unused bits in the last character, then set one
        text = next(t for t in (c.encrypt("x" * n) for n in range(3)) if len(t[4:]) % 4 != 0)
        alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
        last = alphabet.index(text[-1])
        tweaked = text[:-1] + alphabet[last | 1]
        assert tweaked != text
        with pytest.raises(tw.DecryptionError):
            c.decrypt(tweaked)

    def test_wrong_key(self) -> None:
        text = tw.FieldCipher(SECRET).encrypt("value")
        with pytest.raises(tw.DecryptionError, match=r"^field decryption failed$"):
            tw.FieldCipher(OTHER_SECRET).decrypt(text)

    def test_unknown_key_id_reads_like_any_other_failure(self) -> None:
        text = tw.FieldCipher({"gone": SECRET}).encrypt("value")
        with pytest.raises(tw.DecryptionError, match=r"^field decryption failed$"):
            tw.FieldCipher({"other": SECRET}).decrypt(text)

    def test_swapped_values_are_caught(self) -> None:
        c = tw.FieldCipher(SECRET)
        out = c.encrypt_claims({"a": 1, "b": 2})
        (n1, v1), (n2, v2) = out.items()
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({n1: v2, n2: v1})

    def test_a_name_cannot_pass_for_a_value_or_a_lone_field(self) -> None:
        c = tw.FieldCipher(SECRET)
        ((name, value),) = c.encrypt_claims({"a": "x"}).items()
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({name: name})
        with pytest.raises(tw.DecryptionError):
            c.decrypt(name)
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({c.encrypt("a"): value})

    def test_a_plain_member_is_refused(self) -> None:
        c = tw.FieldCipher(SECRET)
        claims = c.encrypt_claims({"sub": "u", "a": 1})
        claims["smuggled"] = "plain"
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims(claims)

    def test_non_string_ciphertext_value_is_refused(self) -> None:
        c = tw.FieldCipher(SECRET)
        ((name, _),) = c.encrypt_claims({"a": 1}).items()
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({name: 5})

    def test_decrypted_name_cannot_shadow_a_registered_claim(self) -> None:
        # In the Ignis formats a lone field and a name share one context, so "sub" can be forged
        # by whoever holds the key; the cipher still refuses to let it replace the clear "sub".
        c = tw.FieldCipher.ignis_legacy("k")
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({"sub": "real", c.encrypt("sub"): c.encrypt("forged")})

    def test_duplicate_decrypted_names_are_refused(self) -> None:
        c = tw.FieldCipher.ignis_legacy("k")
        with pytest.raises(tw.DecryptionError):
            c.decrypt_claims({c.encrypt("a"): c.encrypt("1"), c.encrypt("a"): c.encrypt("2")})

    def test_decrypt_claims_needs_a_mapping(self) -> None:
        with pytest.raises(TypeError):
            tw.FieldCipher(SECRET).decrypt_claims(["not", "a", "mapping"])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Claims


class TestClaims:
    def test_registered_claims_stay_and_the_rest_is_hidden(self) -> None:
        c = tw.FieldCipher(SECRET)
        claims = {
            "iss": "https://issuer",
            "sub": "u1",
            "aud": ["a", "b"],
            "jti": "j",
            "nbf": 1,
            "exp": 2,
            "iat": 1,
            "email": "alice@example.com",
            "roles": ["admin"],
        }
        out = c.encrypt_claims(claims)
        for name in REGISTERED:
            assert out[name] == claims[name]
        hidden = {k: v for k, v in out.items() if k not in REGISTERED}
        assert len(hidden) == 2
        text = repr(hidden)
        assert "email" not in text and "alice" not in text and "admin" not in text
        assert all(k.startswith("tw1.") and v.startswith("tw1.") for k, v in hidden.items())
        assert c.decrypt_claims(out) == claims

    def test_null_members_are_dropped(self) -> None:
        c = tw.FieldCipher(SECRET)
        out = c.encrypt_claims({"sub": "u", "gone": None, "kept": [None]})
        assert len(out) == 2
        assert c.decrypt_claims(out) == {"sub": "u", "kept": [None]}

    def test_null_registered_claims_stay(self) -> None:
        c = tw.FieldCipher(SECRET)
        assert c.encrypt_claims({"sub": None}) == {"sub": None}

    def test_each_member_gets_its_own_nonce(self) -> None:
        c = tw.FieldCipher(SECRET)
        out = c.encrypt_claims({"a": "same", "b": "same"})
        nonces = [tw1_parts(t)[1] for pair in out.items() for t in pair]
        assert len(set(nonces)) == 4

    def test_types_survive_in_the_default_format(self) -> None:
        c = tw.FieldCipher(SECRET)
        claims = {
            "i": 1,
            "f": 1.0,
            "b": True,
            "s": "1",
            "l": [1, "1", 1.5],
            "o": {"k": {"n": None}},
        }
        assert strictly_equal(c.decrypt_claims(c.encrypt_claims(claims)), claims)

    def test_values_that_are_not_json(self) -> None:
        c = tw.FieldCipher(SECRET)
        with pytest.raises(TypeError):
            c.encrypt_claims({"when": object()})
        with pytest.raises(ValueError):
            c.encrypt_claims({"n": float("nan")})
        with pytest.raises(TypeError):
            c.encrypt_claims(["a"])  # type: ignore[arg-type]


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
payloads = st.dictionaries(
    st.sampled_from(REGISTERED) | st.text(max_size=16), json_values, max_size=10
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_round_trip_arbitrary_json(claims: dict[str, Any]) -> None:
    c = tw.FieldCipher(SECRET)
    out = c.encrypt_claims(claims)
    for name in REGISTERED:
        if name in claims:
            assert strictly_equal(out[name], claims[name])
    assert strictly_equal(c.decrypt_claims(out), expected_after_round_trip(claims))


roles = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=6).filter(lambda s: "|" not in s),
            "identifier": st.text(max_size=10),
            "priority": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        }
    ),
    max_size=4,
)
ignis_payloads = st.dictionaries(
    st.text(max_size=12).filter(lambda s: s not in REGISTERED and s != "roles"),
    st.text(max_size=30) | st.none(),
    max_size=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ignis_payloads, roles, st.sampled_from(["legacy", "aes-256-cbc", "aes-256-gcm"]))
def test_round_trip_ignis(
    claims: dict[str, Any], role_list: list[dict[str, Any]], mode: str
) -> None:
    c = tw.FieldCipher.ignis_legacy("my-app-secret") if mode == "legacy" else ignis_v3(mode)
    payload = {**claims, "sub": "u1", "exp": 10, "roles": role_list}
    out = c.decrypt_claims(c.encrypt_claims(payload))
    assert out == expected_after_round_trip(payload)


# ---------------------------------------------------------------------------------------------
# Ignis modes


class TestIgnis:
    def test_legacy_key_is_padded_or_cut(self) -> None:
        iv = bytes(16)
        long_secret = "x" * 32
        a = _core._field_encrypt_with_iv(tw.FieldCipher.ignis_legacy(long_secret), "v", iv)
        b = _core._field_encrypt_with_iv(tw.FieldCipher.ignis_legacy(long_secret + "tail"), "v", iv)
        assert a == b
        short = _core._field_encrypt_with_iv(tw.FieldCipher.ignis_legacy("abc"), "v", iv)
        padded = _core._field_encrypt_with_iv(
            tw.FieldCipher.ignis_legacy("abc" + "0" * 29), "v", iv
        )
        assert short == padded

    def test_legacy_output_is_standard_base64_of_iv_and_ciphertext(self) -> None:
        c = tw.FieldCipher.ignis_legacy("my-app-secret")
        raw = base64.b64decode(c.encrypt("userId"), validate=True)
        assert len(raw) == 32

    def test_values_as_ignis_writes_them(self) -> None:
        c = tw.FieldCipher.ignis_legacy("my-app-secret")
        claims = {
            "sub": "u1",
            "userId": 42,
            "ratio": 1.5,
            "active": True,
            "name": "Ann",
            "tags": ["a", "b"],
            "meta": {"k": 1},
            "roles": [
                {"id": "1", "identifier": "admin", "priority": 0},
                {"id": 2, "identifier": "ops|night", "priority": -3},
                "3|viewer|10",
            ],
        }
        out = c.encrypt_claims(claims)
        plain = {c.decrypt(k).decode(): c.decrypt(v).decode() for k, v in out.items() if k != "sub"}
        assert plain == {
            "userId": "42",
            "ratio": "1.5",
            "active": "true",
            "name": "Ann",
            "tags": '["a","b"]',
            "meta": '{"k":1}',
            "roles": '["1|admin|0","2|ops|night|-3","3|viewer|10"]',
        }
        back = c.decrypt_claims(out)
        assert back["roles"] == [
            {"id": "1", "identifier": "admin", "priority": 0},
            {"id": "2", "identifier": "ops|night", "priority": -3},
            {"id": "3", "identifier": "viewer", "priority": 10},
        ]
        assert back["userId"] == "42"
        assert back["active"] == "true"

    @pytest.mark.parametrize(
        "bad_roles",
        [
            "admin",
            [{"id": "1", "identifier": "admin"}],
            [{"id": "1", "identifier": "admin", "priority": "0"}],
            [{"id": "1", "identifier": "admin", "priority": 1.5}],
            [{"id": "1|x", "identifier": "admin", "priority": 0}],
            [{"id": "1", "identifier": "admin", "priority": 0, "extra": 1}],
            ["no-bars"],
            ["1|admin|high"],
            [7],
        ],
    )
    def test_roles_must_have_the_ignis_shape(self, bad_roles: Any) -> None:
        with pytest.raises(tw.ConfigurationError, match="roles"):
            tw.FieldCipher.ignis_legacy("s").encrypt_claims({"roles": bad_roles})

    def test_roles_that_do_not_parse_fail_to_decrypt(self) -> None:
        c = tw.FieldCipher.ignis_legacy("s")
        for text in ['["only|one"]', '"x"', "[1]", '["1|a|x"]', "not json"]:
            with pytest.raises(tw.DecryptionError):
                c.decrypt_claims({c.encrypt("roles"): c.encrypt(text)})

    def test_legacy_wrong_key_and_truncation(self) -> None:
        vector = "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc="
        with pytest.raises(tw.DecryptionError):
            tw.FieldCipher.ignis_legacy("another-secret").decrypt(vector)
        c = tw.FieldCipher.ignis_legacy("my-app-secret")
        raw = base64.b64decode(vector)
        for cut in (raw[:16], raw[:31], raw[16:], b""):
            with pytest.raises(tw.DecryptionError):
                c.decrypt(base64.b64encode(cut))

    @pytest.mark.parametrize(
        "text",
        [
            "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc",  # padding missing
            "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpd=",  # unused bits set
            " AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc=",
            "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc=\n",
            "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3vpc==",
            "AAECAwQFBgcICQoLDA0OD8qgOC9GHrUK2CfP5ex3v-c=",  # URL-safe alphabet
            "AAECAwQFBgcICQoLDA0OD8qgOC9G=rUK2CfP5ex3vpc=",
        ],
    )
    def test_legacy_accepts_only_canonical_base64(self, text: str) -> None:
        with pytest.raises(tw.DecryptionError):
            tw.FieldCipher.ignis_legacy("my-app-secret").decrypt(text)

    def test_v3_envelope_carries_the_key_id(self) -> None:
        raw = base64.b64decode(ignis_v3().encrypt("x"), validate=True)
        assert raw[:4] == b"\x01\x02k1"
        assert len(raw) == 4 + 16 + 16

    def test_v3_rotation(self) -> None:
        old = ignis_v3()
        ring = tw.FieldCipher.ignis_v3({"k1": "ignis-secret", "k2": "newer"}, primary="k2")
        assert ring.decrypt(old.encrypt("a")) == b"a"
        new_text = ring.encrypt("b")
        assert base64.b64decode(new_text)[:4] == b"\x01\x02k2"
        with pytest.raises(tw.DecryptionError):
            old.decrypt(new_text)

    def test_v3_version_byte_and_unknown_key(self) -> None:
        raw = bytearray(base64.b64decode(ignis_v3().encrypt("x")))
        raw[0] = 2
        with pytest.raises(tw.DecryptionError):
            ignis_v3().decrypt(base64.b64encode(bytes(raw)))
        raw[0] = 1
        raw[3] = ord("9")
        with pytest.raises(tw.DecryptionError):
            ignis_v3().decrypt(base64.b64encode(bytes(raw)))

    def test_v3_gcm_layout_matches_an_independent_implementation(self) -> None:
        c = ignis_v3("aes-256-gcm")
        key = PBKDF2HMAC(
            algorithm=hashes.SHA256(), length=32, salt=b"ignis-kdf-salt-v1", iterations=100000
        ).derive(b"ignis-secret")
        raw = base64.b64decode(c.encrypt("hello gcm"), validate=True)
        assert raw[:4] == b"\x01\x02k1"
        iv, tag, ct = raw[4:20], raw[20:36], raw[36:]
        assert AESGCM(key).decrypt(iv, ct + tag, None) == b"hello gcm"
        # and the other way round
        iv = bytes(range(16))
        sealed = AESGCM(key).encrypt(iv, b"from ignis", None)
        envelope = b"\x01\x02k1" + iv + sealed[-16:] + sealed[:-16]
        assert c.decrypt(base64.b64encode(envelope)) == b"from ignis"

    def test_v3_gcm_tamper(self) -> None:
        c = ignis_v3("aes-256-gcm")
        raw = base64.b64decode(c.encrypt("value"))
        for i in range(len(raw)):
            bad = bytearray(raw)
            bad[i] ^= 0x80
            with pytest.raises(tw.DecryptionError):
                c.decrypt(base64.b64encode(bytes(bad)))
        with pytest.raises(tw.DecryptionError):
            c.decrypt(base64.b64encode(raw[:-1]))


# ---------------------------------------------------------------------------------------------
# Rotation in the default format


class TestRotation:
    def test_encrypt_with_primary_decrypt_with_any(self) -> None:
        old = tw.FieldCipher({"2023": SECRET})
        ring = tw.FieldCipher({"2023": SECRET, "2024": OTHER_SECRET}, primary="2024")
        assert ring.key_ids == ["2023", "2024"]
        old_text = old.encrypt("a")
        new_text = ring.encrypt("b")
        assert tw1_parts(new_text)[0] == b"\x042024"
        assert ring.decrypt(old_text) == b"a"
        assert ring.decrypt(new_text) == b"b"
        with pytest.raises(tw.DecryptionError):
            old.decrypt(new_text)

    def test_mixed_old_and_new_members_in_one_payload(self) -> None:
        old = tw.FieldCipher({"2023": SECRET})
        ring = tw.FieldCipher({"2023": SECRET, "2024": OTHER_SECRET}, primary="2024")
        mixed = {**old.encrypt_claims({"a": 1}), **ring.encrypt_claims({"b": 2, "sub": "u"})}
        assert ring.decrypt_claims(mixed) == {"a": 1, "b": 2, "sub": "u"}
        with pytest.raises(tw.DecryptionError):
            old.decrypt_claims(mixed)

    def test_retired_key(self) -> None:
        ring = tw.FieldCipher({"2023": SECRET, "2024": OTHER_SECRET}, primary="2023")
        text = ring.encrypt("x")
        with pytest.raises(tw.DecryptionError):
            tw.FieldCipher({"2024": OTHER_SECRET}).decrypt(text)


# ---------------------------------------------------------------------------------------------
# Tokens: encrypt before signing, decrypt after the signature and claims pass


@pytest.fixture(scope="module")
def issuer_key() -> tw.JWK:
    return tw.JWK.generate("ES256")


@pytest.fixture(scope="module")
def jwks(issuer_key: tw.JWK) -> tw.JWKSet:
    other = tw.JWK.generate("ES256")
    document = {"keys": [issuer_key.public().to_dict(), other.public().to_dict()]}
    return tw.JWKSet.from_json(document)


def claims_now(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": "https://issuer.example",
        "sub": "user-1",
        "aud": "api",
        "iat": now,
        "exp": now + 300,
        "email": "alice@example.com",
        "groups": ["root", "operator"],
        "profile": {"name": "Alice", "age": 37},
        **extra,
    }


class TestTokens:
    def test_full_token_with_a_jwks_issuer(self, issuer_key: tw.JWK, jwks: tw.JWKSet) -> None:
        cipher = tw.FieldCipher({"2024": SECRET})
        claims = claims_now(nothing=None)
        token = tw.encode(claims, issuer_key, field_cipher=cipher)
        visible = tw.unverified_claims(token)
        assert visible["sub"] == "user-1"
        assert "email" not in visible and "alice" not in repr(visible)
        verifier = tw.Verifier(
            jwks,
            algorithms=["ES256"],
            issuer="https://issuer.example",
            audience="api",
            require=["exp", "email"],
            field_cipher=cipher,
        )
        got = verifier.verify(token)
        assert got == expected_after_round_trip(claims)
        # without the cipher the verifier hands back the ciphertexts untouched
        plain_verifier = tw.Verifier(jwks, algorithms=["ES256"], audience="api")
        assert plain_verifier.verify(token) == visible
        # verify_signature returns the raw (encrypted) payload
        assert b"alice" not in verifier.verify_signature(token)

    def test_decode_with_a_cipher(self, issuer_key: tw.JWK) -> None:
        cipher = tw.FieldCipher(SECRET)
        token = tw.encode(claims_now(), issuer_key, field_cipher=cipher)
        got = tw.decode(
            token, issuer_key.public(), algorithms=["ES256"], audience="api", field_cipher=cipher
        )
        assert got["email"] == "alice@example.com"

    def test_wrong_cipher_is_a_decryption_error(self, issuer_key: tw.JWK, jwks: tw.JWKSet) -> None:
        token = tw.encode(claims_now(), issuer_key, field_cipher=tw.FieldCipher(SECRET))
        verifier = tw.Verifier(
            jwks, algorithms=["ES256"], audience="api", field_cipher=tw.FieldCipher(OTHER_SECRET)
        )
        with pytest.raises(tw.DecryptionError):
            verifier.verify(token)
        with pytest.raises(tw.InvalidTokenError):
            verifier.verify(token)

    def test_signature_is_checked_before_decryption(self, issuer_key: tw.JWK) -> None:
        cipher = tw.FieldCipher(SECRET)
        token = tw.encode(claims_now(), issuer_key, field_cipher=tw.FieldCipher(OTHER_SECRET))
        head, payload, sig = token.split(".")
        forged = f"{head}.{payload}.{sig[:-4]}AAAA"
        verifier = tw.Verifier(issuer_key.public(), algorithms=["ES256"], audience="api")
        with pytest.raises(tw.InvalidSignatureError):
            tw.Verifier(
                issuer_key.public(), algorithms=["ES256"], audience="api", field_cipher=cipher
            ).verify(forged)
        with pytest.raises(tw.InvalidSignatureError):
            verifier.verify(forged)

    def test_claims_are_checked_before_decryption(self, issuer_key: tw.JWK) -> None:
        # an expired token under the wrong cipher: the answer is "expired", never a decryption
        token = tw.encode(
            claims_now(exp=int(time.time()) - 10), issuer_key, field_cipher=tw.FieldCipher(SECRET)
        )
        verifier = tw.Verifier(
            issuer_key.public(),
            algorithms=["ES256"],
            audience="api",
            field_cipher=tw.FieldCipher(OTHER_SECRET),
        )
        with pytest.raises(tw.ExpiredTokenError):
            verifier.verify(token)
        fresh = tw.encode(claims_now(), issuer_key, field_cipher=tw.FieldCipher(SECRET))
        with pytest.raises(tw.InvalidAudienceError):
            tw.Verifier(
                issuer_key.public(),
                algorithms=["ES256"],
                audience="other",
                field_cipher=tw.FieldCipher(OTHER_SECRET),
            ).verify(fresh)
        with pytest.raises(tw.DecryptionError):
            verifier.verify(fresh)

    def test_require_looks_at_decrypted_members(self, issuer_key: tw.JWK) -> None:
        cipher = tw.FieldCipher(SECRET)
        token = tw.encode(claims_now(), issuer_key, field_cipher=cipher)

        def verifier(*require: str) -> tw.Verifier:
            return tw.Verifier(
                issuer_key.public(),
                algorithms=["ES256"],
                audience="api",
                require=require,
                field_cipher=cipher,
            )

        assert verifier("email", "groups", "sub").verify(token)["groups"] == ["root", "operator"]
        with pytest.raises(tw.MissingClaimError):
            verifier("phone").verify(token)
        with pytest.raises(tw.MissingClaimError):
            verifier("jti").verify(token)

    def test_ignis_legacy_token(self, issuer_key: tw.JWK) -> None:
        cipher = tw.FieldCipher.ignis_legacy("my-app-secret")
        roles = [{"id": "1", "identifier": "admin", "priority": 0}]
        token = tw.encode(claims_now(roles=roles, userId=7), issuer_key, field_cipher=cipher)
        got = tw.decode(
            token, issuer_key.public(), algorithms=["ES256"], audience="api", field_cipher=cipher
        )
        assert got["roles"] == roles
        assert got["userId"] == "7"
        assert got["email"] == "alice@example.com"

    def test_hmac_issuer_and_datetime_claims(self) -> None:
        import datetime as dt

        key = tw.JWK.from_secret(b"k" * 32, "HS256")
        cipher = tw.FieldCipher(SECRET)
        exp = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        token = tw.encode({"sub": "u", "exp": exp, "x": 1}, key, field_cipher=cipher)
        assert tw.unverified_claims(token)["exp"] == int(exp.timestamp())
        assert tw.decode(token, key, algorithms=["HS256"], field_cipher=cipher)["x"] == 1

    def test_field_cipher_argument_type(self, issuer_key: tw.JWK) -> None:
        with pytest.raises(TypeError):
            tw.Verifier(
                issuer_key.public(),
                algorithms=["ES256"],
                field_cipher="not a cipher",  # type: ignore[arg-type]
            )
