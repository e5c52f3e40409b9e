"""The native API-key primitive, tokenward._core.ApiKeyHasher: key shape, hashing, checks.

The hashing scheme is documented in cpp/include/tokenward/opaque_tokens.hpp; the known answers
below are recomputed here with Python's hmac/hashlib and cryptography's HKDF.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import string
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import tokenward as tw
from tokenward._core import ApiKeyHasher

SECRET = b"an api-key hashing secret of 32+ bytes"
OTHER_SECRET = b"another api-key hashing secret, 32+ bytes"
INFO = b"tokenward api-key hash v1"
B64URL = set(string.ascii_letters + string.digits + "-_")


def hashing_key(secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret)


def expected_hash(secret: bytes, key: str) -> str:
    return hmac.new(hashing_key(secret), key.encode(), hashlib.sha256).hexdigest()


def key_from(raw: bytes) -> str:
    assert len(raw) == 32
    return "vk_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def hasher() -> ApiKeyHasher:
    return ApiKeyHasher(SECRET)


# --- shape ----------------------------------------------------------------------------------


def test_new_key_shape(hasher: ApiKeyHasher) -> None:
    key, prefix = hasher.new_key()
    assert len(key) == 46
    assert key.startswith("vk_")
    assert set(key[3:]) <= B64URL
    assert prefix == key[:12]
    assert len(prefix) == 12
    raw = base64.urlsafe_b64decode(key[3:] + "=")
    assert len(raw) == 32
    assert key_from(raw) == key  # canonical: re-encoding gives the same text
    assert ApiKeyHasher.is_api_key(key)
    assert ApiKeyHasher.prefix_of(key) == prefix


def test_new_keys_are_unique(hasher: ApiKeyHasher) -> None:
    keys = [hasher.new_key()[0] for _ in range(5000)]
    assert len(set(keys)) == len(keys)
    # 256 random bits: not even the 12-character prefixes (54 bits) should collide here.
    assert len({k[:12] for k in keys}) == len(keys)
    # Every base64url character shows up in the random part (a broken encoder would not).
    assert set("".join(k[3:] for k in keys)) == B64URL


def test_secret_str_is_utf8() -> None:
    key = key_from(bytes(range(32)))
    text = "an api-key hashing secret of 32+ bytes"
    assert ApiKeyHasher(text).hash(key) == ApiKeyHasher(text.encode()).hash(key)


@pytest.mark.parametrize("secret", [b"", b"x" * 31, "y" * 31])
def test_short_secret_refused(secret: str | bytes) -> None:
    with pytest.raises(tw.InvalidKeyError):
        ApiKeyHasher(secret)


def test_secret_of_32_bytes_accepted() -> None:
    ApiKeyHasher(b"k" * 32)


def test_secret_type_checked() -> None:
    with pytest.raises(TypeError):
        ApiKeyHasher(12345)  # type: ignore[arg-type]


# --- known answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [bytes(32), bytes(range(32)), b"\xff" * 32, hashlib.sha256(b"tokenward").digest()],
)
@pytest.mark.parametrize("secret", [SECRET, OTHER_SECRET, b"\x00" * 64])
def test_hash_known_answer(secret: bytes, raw: bytes) -> None:
    key = key_from(raw)
    got = ApiKeyHasher(secret).hash(key)
    assert got == expected_hash(secret, key)
    assert len(got) == 64
    assert got == got.lower()


def test_hash_of_new_key_known_answer(hasher: ApiKeyHasher) -> None:
    for _ in range(50):
        key, _prefix = hasher.new_key()
        assert hasher.hash(key) == expected_hash(SECRET, key)


def test_hash_depends_on_secret() -> None:
    key = key_from(bytes(range(32)))
    assert ApiKeyHasher(SECRET).hash(key) != ApiKeyHasher(OTHER_SECRET).hash(key)


def test_hash_covers_the_whole_key(hasher: ApiKeyHasher) -> None:
    a = key_from(bytes(32))
    b = key_from(bytes(31) + b"\x04")  # differs only in the last character
    assert a[:-1] == b[:-1]
    assert hasher.hash(a) != hasher.hash(b)


# --- matches --------------------------------------------------------------------------------


def test_matches_accepts_the_right_key(hasher: ApiKeyHasher) -> None:
    key, _prefix = hasher.new_key()
    assert hasher.matches(key, hasher.hash(key))
    assert hasher.matches(key, expected_hash(SECRET, key))


def test_matches_refuses_other_keys_and_hashes(hasher: ApiKeyHasher) -> None:
    key, _prefix = hasher.new_key()
    other, _ = hasher.new_key()
    digest = hasher.hash(key)
    assert not hasher.matches(other, digest)
    assert not ApiKeyHasher(OTHER_SECRET).matches(key, digest)
    for i in range(64):  # a change in any one digit
        flipped = digest[:i] + ("0" if digest[i] != "0" else "1") + digest[i + 1 :]
        assert not hasher.matches(key, flipped)


@pytest.mark.parametrize(
    "bad_hash",
    ["", "00", "g" * 64, "0" * 63, "0" * 65, " " + "0" * 63, "é" * 64],
)
def test_matches_malformed_hash_is_false(hasher: ApiKeyHasher, bad_hash: str) -> None:
    key, _prefix = hasher.new_key()
    assert not hasher.matches(key, bad_hash)


def test_matches_uppercase_hash_is_false(hasher: ApiKeyHasher) -> None:
    # The hash is lowercase hex; an uppercase copy is not the hash (GOOD's hash has some of a-f).
    digest = hasher.hash(GOOD)
    assert digest != digest.upper()
    assert not hasher.matches(GOOD, digest.upper())


# --- malformed keys -------------------------------------------------------------------------

B64URL_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def with_last(key: str, value: int) -> str:
    """`key` with its last character replaced by the base64url digit of `value`."""
    return key[:-1] + B64URL_ALPHABET[value]


# The last character ends in two zero bits (canonical); setting the lowest one keeps the decoded
# bytes the same in a lenient decoder but makes the text non-canonical.
GOOD = key_from(bytes(range(32)))
NON_CANONICAL = with_last(GOOD, B64URL_ALPHABET.index(GOOD[-1]) | 1)

MALFORMED = [
    "",
    "vk_",
    "vk",
    GOOD[:-1],  # 45 characters
    GOOD + "A",  # 47 characters
    GOOD + "=",  # padding
    GOOD[:-1] + "=",  # padding in place of the last character
    "VK_" + GOOD[3:],  # wrong prefix, case
    "vk-" + GOOD[3:],
    "twr_" + GOOD[4:],
    "xk_" + GOOD[3:],
    NON_CANONICAL,  # the two unused bits of the last character are not zero
    GOOD[:-1] + "/",  # standard base64, not base64url
    GOOD[:10] + "+" + GOOD[11:],
    GOOD[:10] + " " + GOOD[11:],
    GOOD[:10] + "é" + GOOD[11:],  # non-ASCII, still 46 characters
    GOOD[:10] + "\udc80" + GOOD[11:],  # a lone surrogate (no UTF-8 form)
    "vk_" + "\x00" * 43,
    " " + GOOD[1:],
    GOOD + "\n",
]


@pytest.mark.parametrize("bad", MALFORMED)
def test_malformed_keys(hasher: ApiKeyHasher, bad: str) -> None:
    digest = hasher.hash(GOOD)
    assert not ApiKeyHasher.is_api_key(bad)
    assert not hasher.matches(bad, digest)
    with pytest.raises(tw.MalformedTokenError):
        hasher.hash(bad)
    with pytest.raises(tw.MalformedTokenError):
        ApiKeyHasher.prefix_of(bad)


def test_non_canonical_last_character_fails_though_it_decodes() -> None:
    # Python's decoder ignores the unused bits; the strict shape does not.
    bad = NON_CANONICAL
    assert bad != GOOD
    assert base64.urlsafe_b64decode(bad[3:] + "=") == base64.urlsafe_b64decode(GOOD[3:] + "=")
    assert not ApiKeyHasher.is_api_key(bad)


def test_every_canonical_last_character_is_accepted() -> None:
    for value in range(64):
        assert ApiKeyHasher.is_api_key(with_last(GOOD, value)) == (value % 4 == 0)


def test_argument_types(hasher: ApiKeyHasher) -> None:
    with pytest.raises(TypeError):
        hasher.hash(GOOD.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        hasher.matches(GOOD.encode(), "0" * 64)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ApiKeyHasher.is_api_key(None)  # type: ignore[arg-type]


def test_repr_shows_no_secret(hasher: ApiKeyHasher) -> None:
    assert repr(hasher) == "<ApiKeyHasher>"


# --- threads --------------------------------------------------------------------------------


def test_threads_share_one_hasher(hasher: ApiKeyHasher) -> None:
    keys = [key_from(hashlib.sha256(bytes([i])).digest()) for i in range(64)]
    answers = {k: expected_hash(SECRET, k) for k in keys}
    barrier = threading.Barrier(8)

    def work(offset: int) -> list[str]:
        barrier.wait()
        new = []
        for i in range(300):
            k = keys[(offset + i) % len(keys)]
            assert hasher.hash(k) == answers[k]
            assert hasher.matches(k, answers[k])
            assert not hasher.matches(k, answers[keys[(offset + i + 1) % len(keys)]])
            new.append(hasher.new_key()[0])
        return new

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    minted = [k for batch in results for k in batch]
    assert len(set(minted)) == len(minted)
    assert all(ApiKeyHasher.is_api_key(k) for k in minted)
